#!/usr/bin/env bash
# Training throughput, repro (tch) vs Python torch, same architecture / batch / threads / input,
# side by side. Usage: bench/train_throughput/run.sh [--threads N] [--batch N] [--steps N]
#   [--archs a,b] [--scale mini|full --image-size N --classes N] [--cuda] [--bf16]
# Python torch comes from $REPO/.deps/venv (created here with pip: torch==2.11.0, torchvision,
# safetensors), unless PYTHON points at an interpreter that already has them.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$REPO/bench/out/train_throughput"
mkdir -p "$OUT"
eval "$(bash "$REPO/scripts/setup-libtorch.sh")"
PY="${PYTHON:-$REPO/.deps/venv/bin/python}"
if ! "$PY" -c "import torch, torchvision, safetensors" 2>/dev/null; then
    [[ -x "$REPO/.deps/venv/bin/python" ]] || python3 -m venv "$REPO/.deps/venv"
    PY="$REPO/.deps/venv/bin/python"
    "$PY" -m pip install --quiet torch==2.11.0 torchvision==0.26.0 safetensors
fi
cd "$REPO"
cargo bench --quiet --features torch --bench train_throughput -- --out "$OUT" "$@"
(cd "$REPO/bench/train_throughput" && "$PY" torch_side.py "$OUT")
"$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
r, t = json.load(open(f"{out}/repro.json")), json.load(open(f"{out}/torch.json"))
print(f"\n{r['device']}, {r['threads']} threads, batch {r['batch']}, {r['image_size']}px, scale {r['scale']}, bf16={r['bf16']}; torch {t['torch']}")
print(f"{'model':<20} {'params':>10} {'repro img/s':>12} {'torch img/s':>12} {'ratio':>6}  same network")
for name, a in r["results"].items():
    b = t["results"][name]
    print(f"{name:<20} {a['params']:>10} {a['images_per_s']:>12.1f} {b['images_per_s']:>12.1f} {a['images_per_s'] / b['images_per_s']:>6.2f}  {b['same_network']} (Δ {b['max_logit_diff']:.1e})")
PY
