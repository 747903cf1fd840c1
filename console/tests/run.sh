#!/usr/bin/env bash
# Browser tests of the web console: installs Debian's Chromium and
# playwright-core if they are missing, builds the debug binary, then drives
# the console in headless Chromium against `ventana serve` with a fake Graph
# API. Screenshots are refreshed under docs/ (SCREENSHOTS=0 to skip).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [ ! -x /usr/bin/chromium ] || ! command -v chromedriver >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --silent)
fi
(cd "$repo" && cargo build --locked --bin ventana)
cd "$here"
CONSOLE_TEST_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/ventana" node console.test.mjs
