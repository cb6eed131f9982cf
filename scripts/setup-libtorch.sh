#!/usr/bin/env bash
# Installs libtorch 2.11.0 (what tch 0.24.0 binds) from PyPI into $REPO/.deps/libtorch, with no
# download at build time. Idempotent: a finished install is detected by a stamp file and the
# script returns at once. See docs/design.md §5.
#
#   CPU machine:  the slim folder: torch/lib + torch/include + torch/share from the torch wheel,
#                 minus the CUDA-only libraries, plus libcudart.so.13 and libcupti.so.13 (which
#                 libtorch_cpu.so names) from the nvidia-cuda-runtime / nvidia-cuda-cupti wheels.
#                 No Python import, ~490 MB.
#   GPU machine:  (nvidia-smi works, or REPRO_LIBTORCH_FLAVOR=cuda) `pip install torch==2.11.0`
#                 into $REPO/.deps/venv; .deps/libtorch becomes a link to its torch package, which
#                 has the same lib/ + include/ layout.
#
# Either way LIBTORCH=$REPO/.deps/libtorch. The script prints `export LIBTORCH=...` on its last
# line and writes the same to $REPO/.deps/libtorch.env, so `. .deps/libtorch.env` works too.
# build.rs gives the binary an rpath into that folder, so running needs no variable at all.
set -euo pipefail

TORCH_VERSION=2.11.0
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$REPO/.deps"
DEST="$DEPS/libtorch"
ENV_FILE="$DEPS/libtorch.env"
PYTHON="${PYTHON:-python3}"

log() { echo "setup-libtorch: $*" >&2; }

flavor="${REPRO_LIBTORCH_FLAVOR:-}"
if [[ -z "$flavor" ]]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        flavor=cuda
    else
        flavor=cpu
    fi
fi
STAMP_TEXT="torch==$TORCH_VERSION flavor=$flavor"

finish() {
    mkdir -p "$DEPS"
    printf 'export LIBTORCH=%s\n' "$DEST" >"$ENV_FILE"
    echo "export LIBTORCH=$DEST"
}

# Already done? (The stamp lives inside the folder, so a half-finished install never has one.)
if [[ -f "$DEST/.repro-stamp" && "$(cat "$DEST/.repro-stamp")" == "$STAMP_TEXT" \
      && -f "$DEST/lib/libtorch_cpu.so" && -d "$DEST/include/torch" ]]; then
    log "libtorch $TORCH_VERSION ($flavor) already in $DEST"
    finish
    exit 0
fi

mkdir -p "$DEPS"
rm -rf "$DEST"

if [[ "$flavor" == cuda ]]; then
    VENV="$DEPS/venv"
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
        log "pip install torch==$TORCH_VERSION into $VENV"
        "$VENV/bin/python" -m pip install --quiet "torch==$TORCH_VERSION"
    fi
    TORCH_DIR="$("$VENV/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
    # A link, not a copy: the CUDA libraries the torch package loads live beside it in the venv.
    ln -sfn "$TORCH_DIR" "$DEST"
    echo "$STAMP_TEXT" >"$TORCH_DIR/.repro-stamp"
    log "LIBTORCH -> $TORCH_DIR"
    finish
    exit 0
fi

# CPU: the slim folder, built in a temporary folder and renamed into place when complete.
WHEELS="$DEPS/wheels"
mkdir -p "$WHEELS"
have_wheel() { compgen -G "$WHEELS/$1" >/dev/null; }
if ! have_wheel "torch-$TORCH_VERSION-*.whl"; then
    log "pip download torch==$TORCH_VERSION (one wheel, no dependencies)"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        -d "$WHEELS" "torch==$TORCH_VERSION"
fi
# The CUDA runtime pieces libtorch_cpu.so names (DT_NEEDED), at the versions torch 2.11.0 pins
# through cuda-toolkit[cudart,cupti]==13.0.2.
CUDA_PINS=("nvidia-cuda-runtime==13.0.96.*" "nvidia-cuda-cupti==13.0.85.*")
if ! have_wheel "nvidia_cuda_runtime-13.*.whl" || ! have_wheel "nvidia_cuda_cupti-13.*.whl"; then
    log "pip download ${CUDA_PINS[*]}"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$WHEELS" "${CUDA_PINS[@]}"
fi

TMP="$DEPS/libtorch.tmp"
rm -rf "$TMP"
mkdir -p "$TMP"
TORCH_WHEEL="$(compgen -G "$WHEELS/torch-$TORCH_VERSION-*.whl" | head -n1)"
log "unpacking $(basename "$TORCH_WHEEL")"
unzip -q "$TORCH_WHEEL" 'torch/lib/*' 'torch/include/*' 'torch/share/*' -d "$TMP" \
    -x 'torch/lib/libtorch_cuda.so' 'torch/lib/libtorch_cuda_linalg.so' 'torch/lib/libc10_cuda.so' \
    'torch/lib/libtorch_nvshmem.so' 'torch/lib/libcaffe2_nvrtc.so' 'torch/lib/libtorch_python.so'
mv "$TMP/torch" "$TMP/libtorch"
for pattern in "nvidia_cuda_runtime-13.*.whl:libcudart.so.13" "nvidia_cuda_cupti-13.*.whl:libcupti.so.13"; do
    wheel_glob="${pattern%%:*}"
    lib="${pattern##*:}"
    wheel="$(compgen -G "$WHEELS/$wheel_glob" | head -n1)"
    member="$(unzip -Z1 "$wheel" | grep "/$lib\$" | head -n1)"
    [[ -n "$member" ]] || { log "$lib not found in $(basename "$wheel")"; exit 1; }
    unzip -q -j -o "$wheel" "$member" -d "$TMP/libtorch/lib"
done
echo "$TORCH_VERSION" >"$TMP/libtorch/build-version"
echo "$STAMP_TEXT" >"$TMP/libtorch/.repro-stamp"
mv "$TMP/libtorch" "$DEST"
rmdir "$TMP"
log "installed slim libtorch $TORCH_VERSION in $DEST ($(du -sh "$DEST" | cut -f1))"
finish
