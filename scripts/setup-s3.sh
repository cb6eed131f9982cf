#!/usr/bin/env bash
# Installs (idempotent) the S3-compatible test server the remote tests and bench/remote use:
# `s3s-fs` from crates.io into .deps/bin/s3s-fs. It serves a directory over the S3 API and
# refuses `If-None-Match: *` puts of existing keys, which is what repro's create-if-absent
# pushes rely on. MinIO is in no registry here; garage takes ~20 min to build; this ~3 min.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.14.1
bin=.deps/bin/s3s-fs
if [[ -x $bin ]] && [[ -f .deps/bin/s3s-fs.version ]] && [[ $(cat .deps/bin/s3s-fs.version) == "$VERSION" ]]; then
  exit 0
fi
mkdir -p .deps
root=$(cd .deps && pwd)
# A private target dir: an install never contends with the project's build for its lock.
CARGO_TARGET_DIR="$root/.s3s-build" cargo install --locked --quiet s3s-fs --version "$VERSION" \
  --features binary --root "$root"
rm -rf "$root/.s3s-build"
echo "$VERSION" > .deps/bin/s3s-fs.version
echo "installed $bin ($("$bin" --version 2>/dev/null || echo s3s-fs $VERSION))"
