#!/usr/bin/env bash
# Runs every test through CTest and ends with its summary line.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
# Tests start real server processes; give each its own ports and keep output on failure.
exec ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" --timeout 300
