#!/usr/bin/env bash
# Installs a headless Chromium (Debian's `chromium` package) for the report page's browser test
# (tests/report_page.rs), which loads reports/index.html from file:// and checks its DOM and a
# screenshot. Idempotent: does nothing when `chromium` is already on PATH.
#
#   scripts/setup-chromium.sh
#
# scripts/test.sh runs it and then sets REPRO_REQUIRE_CHROMIUM=1, so the test fails instead of
# skipping when the browser is missing.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
echo "setup-chromium: apt installing chromium"
export DEBIAN_FRONTEND=noninteractive
pkgs=(chromium fonts-dejavu-core)
apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; }
command -v chromium >/dev/null || { echo "setup-chromium: chromium is still not on PATH" >&2; exit 1; }
