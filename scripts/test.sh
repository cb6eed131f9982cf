#!/usr/bin/env bash
# Sets up (idempotent) and runs the whole test suite: formatting, lints, unit and integration
# tests, with libtorch (the ML and data tests run on the real data the set-up installs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck disable=SC1091
if [[ -z "${REPRO_NO_TORCH:-}" ]]; then
  . .deps/libtorch.env
  # Test binaries of the library do not all carry the binary's rpath.
  export LIBTORCH LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
features=(); [[ -z "${REPRO_NO_TORCH:-}" ]] && features=(--features torch)
scripts/setup-s3.sh
# The Slurm executor's tests need a running cluster (three nodes in network namespaces).
scripts/setup-slurm.sh
# The report page's test loads it in a real headless browser; with the browser installed, a
# missing one is a failure, not a skip.
scripts/setup-chromium.sh
export REPRO_REQUIRE_CHROMIUM=1
# shellcheck disable=SC1091
. .deps/slurm/env
export SLURM_CONF
cargo fmt --check
cargo clippy --release --locked --all-targets "${features[@]}" -- -D warnings
cargo test --release --locked "${features[@]}"
