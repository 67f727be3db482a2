#!/usr/bin/env bash
# The soak (what `make soak` runs): a 3-node Pylon cluster under mixed load (pub/sub,
# a queue group, request/reply, subscriber churn, monitoring polls) with a fault every
# SOAK_FAULT_EVERY seconds (SIGSTOP 3 s, or SIGKILL and a restart 1.5 s later), for
# SOAK_MINUTES minutes. Prints progress every 10 s and a table at the end; exits non-zero
# when a canary check fails or a node's RSS or descriptor count does not end flat.
# What each check means exactly: the comment at the top of tests/soak/soak_test.cc.
#
# Usage: scripts/soak.sh            Env: SOAK_MINUTES (default 10), SOAK_FAULT_EVERY
#                                   (seconds, default 20), BUILD_DIR (default build/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
export SOAK_MINUTES=${SOAK_MINUTES:-10}
export SOAK_FAULT_EVERY=${SOAK_FAULT_EVERY:-20}

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" --target pylon-server pylon_soak

echo "soak: ${SOAK_MINUTES} min, a fault every ${SOAK_FAULT_EVERY} s"
exec "$BUILD_DIR/tests/pylon_soak" --gtest_color=no
