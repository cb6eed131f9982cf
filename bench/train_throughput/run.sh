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
# libtorch does the arithmetic, so the dev profile (dependencies at opt-level 2) measures the same;
# REPRO_BENCH_PROFILE=release for a release build.
cargo bench --quiet --profile "${REPRO_BENCH_PROFILE:-dev}" --features torch --bench train_throughput --no-run
ARCHS="$(sed -n 's/.*--archs[ =]\([^ ]*\).*/\1/p' <<<"$*")"
ARCHS="${ARCHS:-alexnet,vgg19,inception_v3,resnet152,densenet161,mobilenet_v3_large,efficientnet_v2_l,vit_b_16,convnext_large}"
# One architecture at a time, repro then torch, so both halves see the same machine load.
for a in ${ARCHS//,/ }; do
    cargo bench --quiet --profile "${REPRO_BENCH_PROFILE:-dev}" --features torch --bench train_throughput -- \
        --out "$OUT" "$@" --archs "$a"
    (cd "$REPO/bench/train_throughput" && "$PY" torch_side.py "$OUT" "$a")
done
"$PY" - "$OUT" "$ARCHS" <<'PY'
import json, sys
out, archs = sys.argv[1], sys.argv[2].split(",")
r = json.load(open(f"{out}/repro.json"))
t0 = json.load(open(f"{out}/torch-{archs[0]}.json"))
print(f"\n{r['device']}, {r['threads']} threads, batch {r['batch']}, {r['image_size']}px, scale {r['scale']}, bf16={r['bf16']}; torch {t0['torch']}")
print(f"{'model':<20} {'params':>10} {'repro img/s':>12} {'torch img/s':>12} {'ratio':>6}  same network (max |Δ logit|)")
for name in archs:
    a, b = json.load(open(f"{out}/repro-{name}.json")), json.load(open(f"{out}/torch-{name}.json"))
    print(f"{name:<20} {a['params']:>10} {a['images_per_s']:>12.1f} {b['images_per_s']:>12.1f} {a['images_per_s'] / b['images_per_s']:>6.2f}  {b['same_network']} ({b['max_logit_diff']:.1e})")
PY
