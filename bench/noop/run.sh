#!/usr/bin/env bash
# No-op run of a 1,000-stage pipeline: `repro run` against `dvc repro` on the equivalent
# dvc.yaml, side by side in one run (this machine is shared and noisy: read the ratio).
#
#   bench/noop/run.sh [STAGES]      (default 1000; needs `pip install dvc`, done here in .deps)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-1000}
repro=${REPRO_BIN:-$root/target/release/repro}
[[ -x $repro ]] || (cd "$root" && cargo build --release --quiet --no-default-features)
venv=$root/.deps/bench-venv
[[ -x $venv/bin/dvc ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q dvc; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q . && git config user.email b@b && git config user.name b
# A chain of layers: stage i reads stage i-10 (a wide, deep DAG), each with one small dep file.
{
  echo "stages:"
  for ((i = 0; i < n; i++)); do
    echo "  s$i:"
    echo "    kind: cmd"
    echo "    deps: [deps/d$i.txt]"
    if ((i >= 10)); then echo "    inputs: [s$((i - 10))]"; fi
    echo "    params: {cmd: \"cat deps/d$i.txt > \$REPRO_OUT/o.txt\"}"
  done
} > pipeline.yaml
{
  echo "stages:"
  for ((i = 0; i < n; i++)); do
    echo "  s$i:"
    echo "    cmd: cat deps/d$i.txt > out/o$i.txt"
    echo "    deps: [deps/d$i.txt$( ((i >= 10)) && echo ", out/o$((i - 10)).txt")]"
    echo "    outs: [out/o$i.txt]"
  done
} > dvc.yaml
mkdir -p deps out
for ((i = 0; i < n; i++)); do echo "$i" > deps/d$i.txt; done
echo "store/" > .gitignore
"$venv/bin/dvc" init -q
git add -A && git commit -qm bench
echo "cold runs (not timed for the comparison)…"
"$repro" run -j 2 > /dev/null
"$venv/bin/dvc" repro -q > /dev/null 2>&1 || "$venv/bin/dvc" repro > /dev/null
time_it() { # median of 5 wall-clock runs, in ms
  local ts=()
  for _ in 1 2 3 4 5; do
    local t0 t1
    t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N)
    ts+=($(((t1 - t0) / 1000000)))
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p
}
r=$(time_it "$repro" run)
d=$(time_it "$venv/bin/dvc" repro)
echo "no-op run of $n stages (median of 5):"
echo "  repro run : ${r} ms"
echo "  dvc repro : ${d} ms"
awk -v r="$r" -v d="$d" 'BEGIN { printf "  ratio     : repro is %.1fx faster\n", d / (r > 0 ? r : 1) }'
