#!/usr/bin/env bash
# Starts a real Slurm cluster on this machine for the Slurm executor's tests, without systemd:
# munged, one slurmctld, and one slurmd per compute node, each node in a network namespace of its
# own (a veth pair into a bridge), so jobs really land on different "hosts" that share this
# machine's filesystem (the store) as a cluster's nodes share NFS. Debian's packages only.
#
#   scripts/setup-slurm.sh          install if needed, (re)start what is not answering
#   REPRO_SLURM_NODES=1 scripts/setup-slurm.sh   a single node, no namespaces (the floor)
#   scripts/setup-slurm.sh stop     stop the daemons, remove the namespaces
#
# Idempotent: each part is checked by asking it (`munge -n`, `scontrol ping`, `sinfo`), never by
# `pgrep` — PID 1 here does not reap, so dead daemons linger as zombies. Writes
# .deps/slurm/slurm.conf and .deps/slurm/env (`export SLURM_CONF=…`), which tests source.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir="$root/.deps/slurm"
nodes=${REPRO_SLURM_NODES:-3}
net=10.77.0            # test addresses of our own: bridge .1, node k at .1k
bridge=repro-br0
conf="$dir/slurm.conf"

stop() {
  for pidfile in "$dir"/run/*.pid; do
    [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -f "$dir"/run/*.pid
  for k in $(seq 1 9); do ip netns del "repro-n$k" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
}
if [[ ${1:-} == stop ]]; then stop; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  echo "setup-slurm: apt installing slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  pkgs=(slurmctld slurmd slurm-client munge iproute2)
  apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; }
fi
mkdir -p "$dir/run" "$dir/state" "$dir/log" "$dir/spool"

# munge: a key, then the daemon as its own user.
if ! munge -n </dev/null >/dev/null 2>&1; then
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
  chmod 0400 /etc/munge/munge.key
  chmod 0755 /run/munge
  su -s /bin/sh munge -c /usr/sbin/munged
  for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n </dev/null >/dev/null || { echo "setup-slurm: munged does not answer (see /var/log/munge)" >&2; exit 3; }
fi

# Nodes: in namespaces (several) or on this host's loopback (one).
node_addr() { if ((nodes > 1)); then echo "$net.1$1"; else echo 127.0.0.1; fi; }
ctl_addr=$( ((nodes > 1)) && echo "$net.1" || echo 127.0.0.1)
if ((nodes > 1)); then
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$ctl_addr/24" dev "$bridge"
    ip link set "$bridge" up
  fi
  for k in $(seq 1 "$nodes"); do
    ns=repro-n$k
    ip netns list | grep -qw "$ns" && continue
    ip netns add "$ns"
    ip link add "rv$k" type veth peer name eth0 netns "$ns"
    ip link set "rv$k" master "$bridge" up
    ip -n "$ns" addr add "$(node_addr "$k")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
fi

# Memory per node: the machine's, split, under the 90% that keeps a node from draining.
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.85)}' /proc/meminfo)
node_mem=$((mem_mb / nodes))
cpus=$(nproc)
host=$(hostname -s)
{
  echo "# Written by scripts/setup-slurm.sh: a test cluster on one machine."
  echo "ClusterName=repro-test"
  echo "SlurmctldHost=$host($ctl_addr)"
  echo "SlurmUser=root"
  echo "SlurmdUser=root"
  echo "AuthType=auth/munge"
  echo "StateSaveLocation=$dir/state"
  echo "SlurmdSpoolDir=$dir/spool/%n"
  echo "SlurmctldPidFile=$dir/run/slurmctld.pid"
  echo "SlurmdPidFile=$dir/run/slurmd-%n.pid"
  echo "SlurmctldLogFile=$dir/log/slurmctld.log"
  echo "SlurmdLogFile=$dir/log/slurmd-%n.log"
  echo "ProctrackType=proctrack/linuxproc"
  echo "TaskPlugin=task/none"
  echo "SelectType=select/cons_tres"
  echo "SelectTypeParameters=CR_Core_Memory"
  echo "JobAcctGatherType=jobacct_gather/none"
  echo "AccountingStorageType=accounting_storage/none"
  echo "MpiDefault=none"
  echo "ReturnToService=2"
  echo "SchedulerType=sched/backfill"
  echo "SchedulerParameters=sched_interval=2"
  echo "MessageTimeout=10"
  echo "SlurmdTimeout=30"
  echo "InactiveLimit=0"
  echo "KillWait=5"
  echo "MinJobAge=300"
  echo "JobRequeue=1"
  # Fast turnaround for tests: a requeued job may start again at once.
  echo "PrologFlags=NoHold"
  for k in $(seq 1 "$nodes"); do
    echo "NodeName=node$k NodeAddr=$(node_addr "$k") CPUs=$cpus RealMemory=$node_mem State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4"
} >"$conf.new"
if ! cmp -s "$conf.new" "$conf"; then
  mv "$conf.new" "$conf"
  changed=1
else
  rm "$conf.new"
  changed=0
fi
echo "export SLURM_CONF=$conf" >"$dir/env"
export SLURM_CONF=$conf

if ((changed)) || ! scontrol ping 2>/dev/null | grep -q UP; then
  [[ -f $dir/run/slurmctld.pid ]] && kill "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null && sleep 1
  slurmctld -f "$conf" -i
  for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
  scontrol ping | grep -q UP || { echo "setup-slurm: slurmctld does not answer (see $dir/log/slurmctld.log)" >&2; exit 3; }
fi
for k in $(seq 1 "$nodes"); do
  state=$(sinfo -h -n "node$k" -o %T 2>/dev/null | head -1)
  case $state in idle | mixed | allocated | completing) ((changed)) || continue ;; esac
  pidfile=$dir/run/slurmd-node$k.pid
  [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null && sleep 1
  mkdir -p "$dir/spool/node$k"
  if ((nodes > 1)); then
    nsenter --net=/run/netns/repro-n$k slurmd -f "$conf" -N "node$k"
  else
    slurmd -f "$conf" -N "node$k"
  fi
done
for _ in $(seq 150); do
  up=$(sinfo -h -o '%T %D' 2>/dev/null | awk '$1 ~ /^(idle|mixed|allocated)/ {n += $2} END {print n + 0}')
  ((up >= nodes)) && break
  sleep 0.2
done
if ((up < nodes)); then
  sinfo -N -l >&2 || true
  echo "setup-slurm: $up of $nodes nodes are up (see $dir/log/)" >&2
  exit 3
fi
echo "setup-slurm: $nodes node(s) up; source $dir/env"
