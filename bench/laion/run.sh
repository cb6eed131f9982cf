#!/usr/bin/env bash
# caption_pool laion-parquet at 200k and 2M rows: peak RSS must not grow with rows.
# Each import runs in its own process (VmHWM of that process). Dedup on and off: the URL set
# is the one part that grows (~16 bytes per distinct URL).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --bench laion 2>/dev/null || true
bin=$(ls -t target/release/deps/laion-* | grep -v '\.d$' | head -1)
tmp=${TMPDIR:-/tmp}/repro-bench-laion; rm -rf "$tmp"; mkdir -p "$tmp"
for n in 200000 2000000; do
  "$bin" gen "$tmp/in-$n" "$n"
  for d in dedup nodedup; do
    echo "$n $d: $("$bin" import "$tmp/in-$n" "$tmp/out-$n-$d" 2 "$d")"
  done
done
rm -rf "$tmp"
