#!/usr/bin/env bash
# CTest `browser.dashboard` and `browser.websocket`: installs playwright-core and nats.ws
# (pinned by package-lock.json) into the build dir, then runs one test file (default
# dashboard.test.mjs) with node's test runner against headless Debian chromium. Exits 77
# (CTest SKIP_RETURN_CODE) with a visible message when chromium is absent.
#   tests/browser/run.sh <build-dir> [test file]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh <build-dir> [test file]}" && pwd)
file=${2:-dashboard.test.mjs}
name=browser.${file%.test.mjs}
chromium=${PYLON_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "SKIPPED $name: $chromium is not installed (Debian package 'chromium'); $file was not run in a browser."
  exit 77
fi

# npm ci only when the lock file changed since the last successful install.
deps=$build/browser-tests
stamp=$deps/node_modules/.pylon-npm-ci.stamp
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "$name: npm ci (tests/browser/package-lock.json) into $deps"
  mkdir -p "$deps"
  cp "$here/package.json" "$here/package-lock.json" "$deps/"
  (cd "$deps" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi

export PYLON_BROWSER_MODULES=$deps/node_modules
export PYLON_CHROMIUM=$chromium
export PYLON_TEST_OUTPUT=${PYLON_TEST_OUTPUT:-$build/test-output}
export PYLON_SERVER_BIN=${PYLON_SERVER_BIN:-$build/pylon-server}
export PYLON_TOOL_BIN=${PYLON_TOOL_BIN:-$build/pylon}
mkdir -p "$PYLON_TEST_OUTPUT"
exec node --test --test-reporter=spec "$here/$file"
