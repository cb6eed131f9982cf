#!/usr/bin/env bash
# Loader throughput, repro vs torchvision's DataLoader, side by side on the same JPEGs, and the
# import's peak memory at two dataset sizes. Results: bench/out/loader.jsonl and a table.
#   bench/loader/run.sh [N]      N ImageNet-like JPEGs (default 3000), from Tux Paint's photos
# Needs a Python with torch, torchvision and numpy: PYTHON=… (default .deps/venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${PYTHON:-.deps/venv/bin/python}
n=${1:-3000}
work=${BENCH_DIR:-bench/out/loader}
out=bench/out/loader.jsonl
mkdir -p "$work" && : > "$out"
[[ -d "$work/jpegs-$n" ]] || "$py" bench/loader/make_jpegs.py "$work/jpegs-$n" "$n"
[[ -d "$work/jpegs-500" ]] || "$py" bench/loader/make_jpegs.py "$work/jpegs-500" 500
cargo build --release ${FEATURES:+--features $FEATURES} --bench loader 2>/dev/null
bin=$(ls -t target/release/deps/loader-* | grep -v '\.d$' | head -1)
for storage in jpeg raw; do
  rm -rf "$work/ds-$storage"
  "$bin" import "$work/jpegs-$n" "$work/ds-$storage" "$storage" | tee -a "$out"
done
rm -rf "$work/ds-small" && "$bin" import "$work/jpegs-500" "$work/ds-small" jpeg | tee -a "$out"
du -sb "$work/jpegs-$n" | awk '{print "{\"stage\":\"source\",\"bytes\":"$1"}"}' | tee -a "$out"
for w in 1 2; do
  for storage in jpeg raw; do "$bin" load "$work/ds-$storage" "$w" | tee -a "$out"; done
  "$py" bench/loader/peer.py "$work/jpegs-$n" "$w" --resize-to "$work/jpegs-$n-256" | tee -a "$out"
  "$py" bench/loader/peer.py "$work/jpegs-$n" "$w" | tee -a "$out"
done
