#!/usr/bin/env bash
# Eight stages reading one large input at once: how long until they start, and how much disk
# their inputs take, with inputs hard-linked from the file cache (the default) against private
# copies (REPRO_INPUTS=copy, how every stage got its inputs before), side by side in one run.
#
#   bench/inputs/run.sh [SIZE_MB]      (default 2048; needs SIZE_MB × 3 free on the store's disk)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
size=${1:-2048}
repro=${REPRO_BIN:-$root/target/release/repro}
[[ -x $repro ]] || (cd "$root" && cargo build --release --quiet)
work=$(mktemp -d "${TMPDIR:-/tmp}/repro-bench-inputs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q . && git config user.email b@b && git config user.name b
cat > pipeline.yaml <<P
stages:
  big:
    kind: cmd
    params: {cmd: 'head -c ${size}M /dev/urandom > \$REPRO_OUT/data'}
  reader:
    kind: cmd
    matrix: {r: [1, 2, 3, 4, 5, 6, 7, 8]}
    inputs: [big]
    params: {cmd: 'echo \${r} > \$REPRO_OUT/r; sleep 3'}
P
echo "store/" > .gitignore
git add -A && git commit -qm bench
"$repro" run big >/dev/null
measure() {
  local mode=$1 t0 t1 peak=0 u pid
  rm -rf store/files store/work
  sync
  t0=$(date +%s.%N)
  REPRO_INPUTS=$mode "$repro" run --force -j 8 reader >/dev/null &
  pid=$!
  # Disk taken by the stages' inputs: scratch and file cache, hard links counted once.
  while kill -0 "$pid" 2>/dev/null; do
    u=$( (du -sbc store/work store/files 2>/dev/null || true) | tail -1 | cut -f1)
    if ((u > peak)); then peak=$u; fi
    sleep 0.3
  done
  wait "$pid"
  t1=$(date +%s.%N)
  # Wall time minus the stages' own 3 s: start-up (materializing inputs) and bookkeeping.
  printf "%-6s start-up %6.1f s   input disk while running %8.0f MB\n" "$mode" \
    "$(echo "$t1 - $t0 - 3" | bc -l)" "$(echo "$peak / 1000000" | bc -l)"
}
echo "8 stages reading one ${size} MB input ($(nproc) cores):"
measure link
measure copy
