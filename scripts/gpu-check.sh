#!/usr/bin/env bash
# One-shot GPU proof for the nine architectures at FULL size, on a machine with one GPU, torch
# 2.11.0 (with CUDA) in Python, no network, and repro's binaries built elsewhere against
# libtorch 2.11.0 WITH CUDA (e.g. `LIBTORCH_USE_PYTORCH=1 cargo build --release --features torch
# --bench train_throughput` where the CUDA wheel is installed; a CPU libtorch never sees the GPU).
#
# For each architecture, repro (tch) then Python torch (torchvision's model, repro's initial
# weights loaded strictly), same batch, bf16 autocast, channels-last, one synthetic batch trained
# on repeatedly:
#   - the loss falls, nothing becomes NaN/inf, the logits inside autocast are bfloat16,
#     the weights really are channels-last;
#   - images/s of repro vs torch, side by side.
# Then, as a separate step that says clearly when it is skipped, the loader's images/s at 224 px
# with all CPUs. Prints one table and writes JSON to $OUT/gpu-check.json (./gpu-check.json when
# $OUT is unset). Exits 1 when a check failed.
#
# Budget: at most 15 minutes in all — each side of each model runs under `timeout`
# ($GPU_CHECK_SIDE_TIMEOUT s, default 40; 9 models × 2 sides × 40 s = 12 min), the loader 60 s.
#
# Usage: scripts/gpu-check.sh [--cpu --quick] [--bench PATH] [--loader-bench PATH] [--python PATH]
#   --cpu --quick   the same steps on the CPU at mini scale and 32 px, fp32 (the script's own test)
#   --bench         the train_throughput bench binary ($REPRO_TRAIN_BENCH; default: the newest
#                   target/release/deps/train_throughput-*)
#   --loader-bench  the loader bench binary ($REPRO_LOADER_BENCH; default target/release/deps/loader-*)
#   --python        Python with torch + torchvision + safetensors ($PYTHON; default python3, or
#                   .deps/venv/bin/python when that exists)
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CPU=0 QUICK=0
BENCH="${REPRO_TRAIN_BENCH:-}" LOADER="${REPRO_LOADER_BENCH:-}" PY="${PYTHON:-}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --cpu) CPU=1 ;;
        --quick) QUICK=1 ;;
        --bench) BENCH="$2"; shift ;;
        --loader-bench) LOADER="$2"; shift ;;
        --python) PY="$2"; shift ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
newest() { ls -t $1 2>/dev/null | while read -r f; do [[ -x $f && ! -d $f ]] && { echo "$f"; break; }; done; }
[[ -n $BENCH ]] || BENCH="$(newest "$REPO/target/release/deps/train_throughput-*")"
[[ -n $LOADER ]] || LOADER="$(newest "$REPO/target/release/deps/loader-*")"
if [[ -z $PY ]]; then
    PY=python3
    [[ -x $REPO/.deps/venv/bin/python ]] && PY="$REPO/.deps/venv/bin/python"
fi
if [[ -z $BENCH || ! -x $BENCH ]]; then
    echo "gpu-check: no train_throughput bench binary; build it with" \
        "\`cargo build --release --features torch --bench train_throughput\` or pass --bench PATH" >&2
    exit 2
fi
if ! "$PY" -c "import torch, torchvision, safetensors" 2>/dev/null; then
    echo "gpu-check: $PY lacks torch, torchvision or safetensors; pass --python PATH" >&2
    exit 2
fi
# The binary finds libtorch where Python's torch keeps it unless LD_LIBRARY_PATH says otherwise.
if [[ -z ${LD_LIBRARY_PATH:-} ]]; then
    LD_LIBRARY_PATH="$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
    export LD_LIBRARY_PATH
fi
DEST="${OUT:-.}"
mkdir -p "$DEST"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
CPUS="$(nproc)"
SIDE_TIMEOUT="${GPU_CHECK_SIDE_TIMEOUT:-40}"

# model:train crop:batch — the recipes' training crops (pipeline.paper.yaml), batches that fit
# an 80 GB GPU in bf16.
MODELS=(alexnet:224:256 vgg19:224:64 inception_v3:299:64 resnet152:224:64 densenet161:224:64
    mobilenet_v3_large:224:128 efficientnet_v2_l:384:16 vit_b_16:224:64 convnext_large:176:64)
if [[ $CPU == 1 ]]; then
    DEVICE_ARGS=(--threads "$CPUS")
    MODE="cpu"
else
    DEVICE_ARGS=(--threads "$CPUS" --cuda --bf16 --channels-last)
    MODE="cuda bf16 channels-last"
fi
if [[ $QUICK == 1 ]]; then
    SCALE_ARGS=(--scale mini --classes 10)
    WARMUP=2 STEPS=6 SIDE_TIMEOUT="${GPU_CHECK_SIDE_TIMEOUT:-180}"
    MODE="$MODE, quick (mini scale, 32 px)"
else
    SCALE_ARGS=(--scale full --classes 1000)
    WARMUP=3 STEPS=10
fi

for entry in "${MODELS[@]}"; do
    IFS=: read -r name size batch <<<"$entry"
    if [[ $QUICK == 1 ]]; then size=32 batch=8; fi
    dir="$WORK/$name"
    mkdir -p "$dir"
    echo "gpu-check: $name at ${size}px, batch $batch" >&2
    timeout "$SIDE_TIMEOUT" "$BENCH" --out "$dir" --archs "$name" --image-size "$size" --batch "$batch" \
        --warmup "$WARMUP" --steps "$STEPS" "${SCALE_ARGS[@]}" "${DEVICE_ARGS[@]}" >"$dir/repro.log" 2>&1 \
        || echo "repro side failed or timed out (rc $?)" >>"$dir/repro.log"
    if [[ -f $dir/repro-$name.json ]]; then
        (cd "$REPO/bench/train_throughput" && timeout "$SIDE_TIMEOUT" "$PY" torch_side.py "$dir" "$name") \
            >"$dir/torch.log" 2>&1 || echo "torch side failed or timed out (rc $?)" >>"$dir/torch.log"
    fi
done

# The loader at 224 px with all CPUs: only with a loader bench that speaks --px / --workers / --json.
LOADER_JSON="$WORK/loader.json"
if [[ -n $LOADER && -x $LOADER ]] && "$LOADER" --help 2>&1 | grep -q -- "--json"; then
    timeout 60 "$LOADER" --px 224 --workers "$CPUS" --json "$LOADER_JSON" >"$WORK/loader.log" 2>&1 \
        || echo "{\"skipped\": \"the loader bench failed (rc $?): $(tail -c 300 "$WORK/loader.log" | tr '\"\n' "' ")\"}" >"$LOADER_JSON"
else
    echo '{"skipped": "no loader bench with --px/--workers/--json (the loader rework is not merged yet)"}' >"$LOADER_JSON"
fi

"$PY" - "$WORK" "$DEST/gpu-check.json" "$MODE" "$CPU" "${MODELS[@]}" <<'PY'
import json, os, sys
work, dest, mode, cpu, entries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5:]
import torch
device = "cpu" if cpu else (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cuda (unavailable to Python)")
def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None
rows, ok = [], True
for entry in entries:
    name = entry.split(":")[0]
    d = f"{work}/{name}"
    meta = load(f"{d}/repro.json") or {}
    r, t = load(f"{d}/repro-{name}.json"), load(f"{d}/torch-{name}.json")
    row = {"model": name, "image_size": meta.get("image_size"), "batch": meta.get("batch"), "repro": r, "torch": t}
    if r is None:
        row["error"] = open(f"{d}/repro.log").read()[-2000:]
    elif t is None:
        row["error"] = (open(f"{d}/torch.log").read() if os.path.exists(f"{d}/torch.log") else "")[-2000:]
    checks = {}
    if r:
        checks["loss_falls"] = r["loss_last"] < r["loss_first"]
        checks["finite"] = bool(r["finite"])
        if not cpu:
            checks["autocast_bf16"] = r["autocast_dtype"] == "BFloat16"
            checks["channels_last"] = bool(r["channels_last"])
    if t:
        checks["same_network"] = bool(t["same_network"])
        checks["torch_loss_falls"] = t["loss_last"] < t["loss_first"]
    row["checks"] = checks
    row["ratio"] = r["images_per_s"] / t["images_per_s"] if r and t and t["images_per_s"] > 0 else None
    row["pass"] = bool(r and t and all(checks.values()))
    ok &= row["pass"]
    rows.append(row)
loader = load(f"{work}/loader.json") or {"skipped": "the loader step wrote nothing"}
ratios = [row["ratio"] for row in rows if row["ratio"]]
geo = None
if ratios:
    import math
    geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
report = {"device": device, "mode": mode, "torch": torch.__version__, "models": rows,
          "geomean_ratio": geo, "loader": loader, "pass": ok}
json.dump(report, open(dest, "w"), indent=1)
print(f"\n{device}; {mode}; torch {torch.__version__}")
print(f"{'model':<19}{'px':>4}{'batch':>6}{'repro img/s':>12}{'torch img/s':>12}{'ratio':>7}  {'loss first→last':<17}{'dtype':<9}{'NHWC':<5}{'same':<5}result")
for row in rows:
    r, t = row["repro"] or {}, row["torch"] or {}
    ips = lambda x: f"{x['images_per_s']:.1f}" if x else "-"
    loss = f"{r['loss_first']:.3f}→{r['loss_last']:.3f}" if r else "-"
    ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
    print(f"{row['model']:<19}{row['image_size'] or '-':>4}{row['batch'] or '-':>6}{ips(r or None):>12}{ips(t or None):>12}"
          f"{ratio:>7}  {loss:<17}"
          f"{str(r.get('autocast_dtype', '-')):<9}{str(r.get('channels_last', '-'))[0]:<5}{str(t.get('same_network', '-'))[0]:<5}"
          f"{'ok' if row['pass'] else 'FAIL ' + ','.join(k for k, v in row['checks'].items() if not v) + (' (error, see JSON)' if 'error' in row else '')}")
if geo:
    print(f"geometric mean repro/torch: {geo:.2f}")
print("loader: " + (f"SKIPPED — {loader['skipped']}" if "skipped" in loader else json.dumps(loader)))
print(f"written: {dest}")
sys.exit(0 if ok else 1)
PY
