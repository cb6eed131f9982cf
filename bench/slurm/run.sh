#!/usr/bin/env bash
# Scheduling overhead through Slurm: the same DAGs of trivial stages run by `repro run` on the
# local executor, by `repro run` on the Slurm executor, and by Snakemake with its Slurm executor
# plugin (and its local one, for reference), side by side in one run on the test cluster of
# scripts/setup-slurm.sh. Every stage writes one line; what is measured is the tools.
#
#   bench/slurm/run.sh [STAGES] [CHAIN]     (default: a 200-stage DAG, a 10-stage chain)
#   SHAPES=chain bench/slurm/run.sh         (one shape; the summary needs both)
#
# - DAG: STAGES stages, stage i reads stage i-10 (ten chains side by side, STAGES/10 deep).
# - chain: CHAIN stages one after another; wall time / CHAIN is the per-stage overhead (submit,
#   queue, start, end, noticing the end), since nothing overlaps.
# Both tools poll Slurm once a second (repro `poll_seconds: 1`; Snakemake
# `--slurm-init-seconds-before-status-checks 1`, its smallest) and ask for the same resources
# (1 CPU, 100 MB; without `--mem` this cluster gives a job a whole node's memory). The cluster
# has no slurmdbd, so `sacct` answers nothing: Snakemake runs with `--slurm-status-command
# squeue` (it works, MinJobAge is 300 s here) and `--slurm-no-account`. Inside each job the
# plugin runs the rule through `srun` with every SLURM_* variable but a few removed, SLURM_CONF
# included, so on a cluster configured by SLURM_CONF (this one) srun finds no controller and
# every job fails; an `srun` on PATH that sets SLURM_CONF again works around it.
#
# Needs scripts/setup-slurm.sh; installs snakemake and snakemake-executor-plugin-slurm from PyPI
# into .deps/venv-snakemake. Each tool runs once per shape (a run is minutes); the machine is
# shared, so read ratios, not absolute times.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
n=${1:-200}
chain=${2:-10}
scripts/setup-slurm.sh > /dev/null
. .deps/slurm/env
export SLURM_CONF
repro=${REPRO_BIN:-$root/target/release/repro}
[[ -x $repro ]] || { echo "build repro first (cargo build --release)" >&2; exit 2; }
venv=$root/.deps/venv-snakemake
if [[ ! -x $venv/bin/snakemake ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q snakemake snakemake-executor-plugin-slurm
fi
smk_version=$("$venv/bin/snakemake" --version)
plugin_version=$("$venv/bin/pip" show snakemake-executor-plugin-slurm 2>/dev/null | awk '/^Version/ {print $2}')
# On the shared filesystem: the nodes run the stages in these folders.
out=$root/bench/out/slurm
rm -rf "$out" && mkdir -p "$out"

mkdir -p "$out/bin"
printf '#!/bin/sh\nexport SLURM_CONF=%s\nexec /usr/bin/srun "$@"\n' "$SLURM_CONF" > "$out/bin/srun"
chmod +x "$out/bin/srun"
export PATH=$out/bin:$PATH

# project DIR STAGES WIDTH: a repro pipeline and the equivalent Snakefile, stage i reading i-WIDTH.
project() {
  local dir=$1 stages=$2 width=$3
  mkdir -p "$dir/.repro"
  (cd "$dir" && git init -q)
  {
    echo "stages:"
    for ((i = 0; i < stages; i++)); do
      echo "  s$i:"
      echo "    kind: cmd"
      if ((i >= width)); then echo "    inputs: [s$((i - width))]"; fi
      echo "    params: {cmd: \"echo $i > \$REPRO_OUT/o.txt\"}"
      echo "    resources: {cpus: 1, memory: 100M}"
    done
  } > "$dir/pipeline.yaml"
  printf 'executor:\n  kind: slurm\n  poll_seconds: 1\n  max_jobs: 100\n' > "$dir/.repro/config.yaml"
  cat > "$dir/Snakefile" <<SMK
localrules: all
rule all:
    input: expand("out/o{i}.txt", i=range($stages))
rule s:
    output: "out/o{i}.txt"
    input: lambda w: [f"out/o{int(w.i) - $width}.txt"] if int(w.i) >= $width else []
    resources: mem_mb=100, cpus_per_task=1, runtime=10
    shell: "echo {wildcards.i} > {output}"
SMK
}

# secs CMD…: wall seconds of one run (its output in $log); fails the bench if the run fails.
secs() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$log" 2>&1 || { echo "failed: $* (see $log)" >&2; tail -20 "$log" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}

# What starting each tool costs on this machine now (median of 3): every job pays it.
startup() {
  local ts=() t0 t1
  for _ in 1 2 3; do
    t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N)
    ts+=($(((t1 - t0) / 1000000)))
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n 2p
}
repro_start=$(startup "$repro" --version)
smk_start=$(startup "$venv/bin/snakemake" --version)
echo "start-up: repro ${repro_start} ms, snakemake ${smk_start} ms" >&2

declare -A t
for shape in ${SHAPES:-dag chain}; do
  if [[ $shape == dag ]]; then stages=$n width=10; else stages=$chain width=1; fi
  for tool in repro-local repro-slurm smk-local smk-slurm; do
    dir=$out/$shape-$tool
    project "$dir" "$stages" "$width"
    log=$out/$shape-$tool.log
    echo "$shape ($stages stages): $tool…" >&2
    case $tool in
      repro-local) t[$shape,$tool]=$(cd "$dir" && secs "$repro" run --executor local -j 2) ;;
      repro-slurm) t[$shape,$tool]=$(cd "$dir" && secs "$repro" run --executor slurm) ;;
      smk-local) t[$shape,$tool]=$(cd "$dir" && secs "$venv/bin/snakemake" all -c 2) ;;
      smk-slurm) t[$shape,$tool]=$(cd "$dir" && secs "$venv/bin/snakemake" all --executor slurm \
        --jobs 100 --slurm-no-account --slurm-status-command squeue \
        --slurm-init-seconds-before-status-checks 1 --default-resources slurm_partition=debug) ;;
    esac
    echo "  ${t[$shape,$tool]} s" >&2
  done
  # Every tool really ran every stage (a second repro run executes nothing).
  for tool in repro-local repro-slurm; do
    again=$(cd "$out/$shape-$tool" && "$repro" run --json --executor local)
    grep -q '"executed": \[\]' <<< "$again"
  done
  for tool in smk-local smk-slurm; do
    [[ $(ls "$out/$shape-$tool/out" | wc -l) == "$stages" ]]
  done
done

python3 - "$n" "$chain" "$smk_version" "$plugin_version" "$repro_start" "$smk_start" \
  "${t[dag,repro-local]:-nan}" "${t[dag,repro-slurm]:-nan}" "${t[dag,smk-local]:-nan}" "${t[dag,smk-slurm]:-nan}" \
  "${t[chain,repro-local]:-nan}" "${t[chain,repro-slurm]:-nan}" "${t[chain,smk-local]:-nan}" "${t[chain,smk-slurm]:-nan}" <<'PY'
import sys
n, chain, smk, plugin = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rstart, sstart = int(sys.argv[5]), int(sys.argv[6])
dl, ds, sl, ss, cl, cs, csl, css = map(float, sys.argv[7:])
print(f"trivial stages, 3-node test Slurm cluster on one 2-core machine (snakemake {smk}, slurm plugin {plugin})")
print(f"{'':28} {'repro':>9} {'snakemake':>10} {'snakemake/repro':>16}")
print(f"{n}-stage DAG, local     {dl:9.1f}s {sl:9.1f}s {sl/dl:15.2f}x")
print(f"{n}-stage DAG, Slurm     {ds:9.1f}s {ss:9.1f}s {ss/ds:15.2f}x")
print(f"per stage in a {chain}-chain, local {cl/chain:6.2f}s {csl/chain:9.2f}s {csl/cl:15.2f}x")
print(f"per stage in a {chain}-chain, Slurm {cs/chain:6.2f}s {css/chain:9.2f}s {css/cs:15.2f}x")
print(f"start-up of the binary (each job pays it): repro {rstart} ms, snakemake {sstart} ms")
print(f"repro: Slurm/local on the DAG {ds/dl:.1f}x; Slurm per-stage overhead over local {(cs-cl)/chain:.2f}s")
PY
