#!/usr/bin/env bash
# Installs what Pylon needs to build, run and test: Debian packages only.
# Called by `make run`, `make test` and `make bench`; a no-op when all is present.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build make pkg-config
  # libraries
  libboost1.81-dev libboost-json1.81-dev libssl-dev libcrypt-dev
  libspdlog-dev libfmt-dev libcli11-dev
  # WebSocket permessage-deflate
  zlib1g-dev
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  # `make fuzz` and the fuzz.* smoke tests: clang with libFuzzer (libclang_rt.fuzzer is in
  # libclang-rt-14-dev on Debian 12)
  clang libclang-rt-14-dev
  # real peers: the reference server, the official C and Go clients, Node for the JS client
  nats-server libnats-dev golang-go golang-github-nats-io-go-nats-dev
  # nkeys for the Go tests (tests/go) and tests/unit/testdata/nkeys/gen.go; the jwt library for
  # tests/go/src/leafjwt (operator, account and user JWTs for the leaf credentials test)
  golang-github-nats-io-nkeys-dev golang-github-nats-io-jwt-dev
  # tools the tests drive: the monitoring dashboard's browser test (headless Chromium and a
  # font to render it), `pylon top` under tmux, promtool (Debian's prometheus) to validate /metrics
  procps iproute2 curl chromium fonts-dejavu-core tmux prometheus
  # openssl makes the certificate for the client library's TLS test against nats-server;
  # npm needs the CA certificates to reach its registry over HTTPS
  openssl ca-certificates
  # `pylon top`'s terminal view
  libncurses-dev
  # scripts/msgcost.sh and the profiles in docs/performance.md: callgrind, perf's tracepoints
  valgrind linux-perf
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js (for the official JavaScript client): Debian's nodejs+npm, unless a
# Node.js with its own npm is already installed (some images ship one).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
