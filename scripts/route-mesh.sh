#!/usr/bin/env bash
# Seven nodes started at once, each routing to one seed (issue 14 §4, nats-server issue
# #5483): how many route connections each node opens and closes, and how many it closes as
# duplicates, over --rounds runs. For one server or the other (--server pylon|nats), so the
# reference's counts can be set beside ours; tests/integration/route_mesh_test.cc asserts
# Pylon's. Pylon's counts come from /routez (route_connections_opened/_closed,
# duplicate_routes_closed); nats-server counts nothing, so its come from its log (-D):
# "Route connection created" and "Router connection closed[: Duplicate Route]".
# A run waits (at most 60 s) until every node has 6 routes and opened = closed + 6, i.e. no
# connection is still in its handshake. One line per run on stdout; progress on stderr.
#
# Usage: scripts/route-mesh.sh [--server pylon|nats] [--rounds N] [--nodes N]
# Env: BUILD_DIR, PYLON_SERVER, NATS_SERVER: the binaries.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PYLON_SERVER=${PYLON_SERVER:-$BUILD_DIR/pylon-server}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server 2>/dev/null || echo /usr/sbin/nats-server)}
SERVER=pylon ROUNDS=5 NODES=7
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "route-mesh.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
BIN=$([ "$SERVER" = nats ] && echo "$NATS_SERVER" || echo "$PYLON_SERVER")
[ -x "$BIN" ] || { echo "route-mesh.sh: $BIN not found" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pylon-mesh.XXXXXX")
PIDS=()
stop_pids() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_pids; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"  # port_open, pick_port
get() { (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\n\r\n' "$2" >&3 && cat <&3) 2>/dev/null || true; }
field() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" | head -n1; }
# counts NODE_INDEX: "opened closed duplicates routes"
counts() {
  local i=$1 body routes
  routes=$(get "${HTTP[$i]}" /varz | field routes)
  if [ "$SERVER" = nats ]; then
    local log=$TMP/n$i.log
    echo "$(grep -c 'Route connection created' "$log" || true) $(grep -c 'Router connection closed' "$log" || true)" \
      "$(grep -c 'Router connection closed: Duplicate Route' "$log" || true) ${routes:-0}"
  else
    body=$(get "${HTTP[$i]}" /routez)
    echo "$(field route_connections_opened <<<"$body") $(field route_connections_closed <<<"$body")" \
      "$(field duplicate_routes_closed <<<"$body") ${routes:-0}"
  fi
}
settled() {
  local i o c d r
  for i in $(seq 0 $((NODES - 1))); do
    read -r o c d r <<<"$(counts "$i")"
    [ "${r:-0}" -eq $((NODES - 1)) ] && [ -n "$o" ] && [ -n "$c" ] && [ "$o" -eq $((c + NODES - 1)) ] || return 1
  done
}

echo "route-mesh.sh: $SERVER ($BIN), $NODES nodes, $ROUNDS rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
FAILED=0
for round in $(seq 1 "$ROUNDS"); do
  CP=() HTTP=() RP=()
  for i in $(seq 0 $((NODES - 1))); do CP+=("$(pick_port)"); HTTP+=("$(pick_port)"); RP+=("$(pick_port)"); done
  for i in $(seq 0 $((NODES - 1))); do
    args=(-a 127.0.0.1 -p "${CP[$i]}" -m "${HTTP[$i]}" -n "n$i" -D --cluster_name mesh --cluster "nats://127.0.0.1:${RP[$i]}")
    [ "$i" -gt 0 ] && args+=(--routes "nats://127.0.0.1:${RP[0]}")
    "$BIN" "${args[@]}" >"$TMP/n$i.log" 2>&1 &
    PIDS+=($!)
  done
  deadline=$((SECONDS + 60))
  until settled; do
    if [ $SECONDS -ge $deadline ]; then
      echo "route-mesh.sh: round $round did not settle within 60 s" >&2; FAILED=1
      for i in $(seq 0 $((NODES - 1))); do
        kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "route-mesh.sh: n$i exited:" >&2; tail -n 3 "$TMP/n$i.log" >&2; }
      done
      break
    fi
    sleep 0.1
  done
  line="round $round:" total=0
  for i in $(seq 0 $((NODES - 1))); do
    read -r o c d r <<<"$(counts "$i")"
    line="$line n$i $o/$c/$d"
    total=$((total + ${d:-0}))
  done
  echo "$line (opened/closed/duplicates); duplicates in all: $total"
  stop_pids
  rm -f "$TMP"/n*.log
done
exit $FAILED
