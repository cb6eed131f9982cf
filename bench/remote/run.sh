#!/usr/bin/env bash
# Push and pull throughput: `repro push`/`repro pull` against `aws s3 cp --recursive` on the
# same files and the same S3-compatible server (s3s-fs on 127.0.0.1), side by side.
#
#   bench/remote/run.sh [FILES] [MIB_PER_FILE]      (default 64 files of 4 MiB = 256 MiB)
#
# The files are random bytes (incompressible: zstd gains nothing, so both tools move the same
# bytes). repro's time includes what it does beyond copying: hashing every object on the way
# out and verifying every object on the way in. Needs scripts/setup-s3.sh; installs awscli from
# PyPI into bench/out/venv.
#
# Measured (2026-12-01, 2 shared cores under load from other builds, awscli 1.46.3, s3s-fs 0.14.1):
#   268 MB   push 104.9 MB/s vs 76.7 MB/s (1.37x)   pull 144.9 MB/s vs 87.2 MB/s (1.66x)
#   (an earlier run, before pulls streamed to store/tmp: push 1.37x, pull 1.76x)
set -euo pipefail
cd "$(dirname "$0")/../.."
files=${1:-64}
mib=${2:-4}
scripts/setup-s3.sh
out=bench/out/remote
rm -rf "$out" && mkdir -p "$out"
out=$(cd "$out" && pwd)
if [[ ! -x bench/out/venv/bin/aws ]]; then
  python3 -m venv bench/out/venv
  bench/out/venv/bin/pip install -q awscli
fi
aws=$PWD/bench/out/venv/bin/aws
cargo build --release --quiet
repro=${CARGO_TARGET_DIR:-$PWD/target}/release/repro

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$out/s3/bench"
.deps/bin/s3s-fs --host 127.0.0.1 --port "$port" --access-key bench --secret-key benchsecret \
  "$out/s3" > "$out/s3s-fs.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$port

# A project whose one stage writes the files; its output tree is what both tools move.
proj=$out/project
mkdir -p "$proj"
cat > "$proj/pipeline.yaml" <<YAML
stages:
  blobs:
    kind: cmd
    params: {cmd: "for i in \$(seq 1 $files); do head -c $((mib << 20)) /dev/urandom > \$REPRO_OUT/blob\$i.bin; done"}
YAML
(cd "$proj" && git init -q && "$repro" run > /dev/null && "$repro" export blobs "$out/files" > /dev/null)
bytes=$(du -sb "$out/files" | cut -f1)

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }

t0=$(now); (cd "$proj" && "$repro" push --remote s3://bench/repro > /dev/null); t1=$(now)
clone=$out/clone; mkdir -p "$clone"; cp "$proj/pipeline.yaml" "$clone/"
(cd "$clone" && git init -q)
t2=$(now); (cd "$clone" && "$repro" pull --remote s3://bench/repro > /dev/null); t3=$(now)
t4=$(now); "$aws" s3 cp --quiet --recursive "$out/files" s3://bench/aws/ --endpoint-url "$AWS_ENDPOINT_URL"; t5=$(now)
t6=$(now); "$aws" s3 cp --quiet --recursive s3://bench/aws/ "$out/aws-down" --endpoint-url "$AWS_ENDPOINT_URL"; t7=$(now)

cmp -s "$out/files/blob1.bin" "$out/aws-down/blob1.bin"
(cd "$clone" && "$repro" run --json | grep -q '"executed": \[\]')

python3 - "$bytes" "$(secs "$t0" "$t1")" "$(secs "$t2" "$t3")" "$(secs "$t4" "$t5")" "$(secs "$t6" "$t7")" <<'PY'
import sys
b, rp, rl, ap, al = float(sys.argv[1]), *map(float, sys.argv[2:])
mb = b / 1e6
print(f"{mb:.0f} MB of random files, one s3s-fs server on 127.0.0.1 (throughput; ratio > 1: repro faster)")
print(f"{'':6} {'repro':>14} {'aws s3 cp':>14} {'repro/aws':>10}")
for name, r, a in [("push", rp, ap), ("pull", rl, al)]:
    print(f"{name:6} {mb/r:9.1f} MB/s {mb/a:9.1f} MB/s {a/r:9.2f}x   ({r:.2f} s vs {a:.2f} s)")
PY
