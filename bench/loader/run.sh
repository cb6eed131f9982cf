#!/usr/bin/env bash
# Loader throughput against training throughput at mini scale, side by side in one run.
#   bench/loader/run.sh          (needs scripts/setup.sh done: Fashion-MNIST and libtorch)
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== loader (pure Rust, no torch)"
cargo bench --quiet --bench loader
echo "== mini training throughput of the fastest and slowest architectures (repro vs Python torch)"
bench/train_throughput/run.sh --threads 2 --batch 128 --archs alexnet,resnet152
