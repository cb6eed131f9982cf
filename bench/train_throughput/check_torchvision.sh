#!/usr/bin/env bash
# Full-size architectures against torchvision's own: repro writes each model's initial weights
# and its logits on a probe input; torchvision's model (weights=None) must load those weights
# with strict=True and give the same logits. Usage: check_torchvision.sh [arch ...]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$REPO/bench/out/torchvision_check"
mkdir -p "$OUT"
eval "$(bash "$REPO/scripts/setup-libtorch.sh")"
PY="${PYTHON:-$REPO/.deps/venv/bin/python}"
cd "$REPO"
ARCHS=("$@")
[[ ${#ARCHS[@]} -gt 0 ]] || ARCHS=(alexnet vgg19 inception_v3 resnet152 densenet161 mobilenet_v3_large efficientnet_v2_l vit_b_16 convnext_large)
cargo bench --quiet --profile "${REPRO_BENCH_PROFILE:-dev}" --features torch --bench train_throughput --no-run
for a in "${ARCHS[@]}"; do
    size=224
    [[ $a == inception_v3 ]] && size=299
    cargo bench --quiet --profile "${REPRO_BENCH_PROFILE:-dev}" --features torch --bench train_throughput -- \
        --out "$OUT" --archs "$a" --scale full --classes 1000 --image-size "$size" --batch 1 --steps 0 --warmup 0
done
"$PY" "$REPO/bench/train_throughput/check_torchvision.py" "$OUT" "${ARCHS[@]}"
rm -f "$OUT"/*.init.safetensors
