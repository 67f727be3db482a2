#!/usr/bin/env bash
# Starts the user's 3-node cluster on localhost in the foreground:
#   node  client  monitoring  routes
#   a     4222    4333        4248
#   b     5222    5333        5248
#   c     6222    6333        6248
# Every node's log goes to this terminal in the reference format ([pid] time [LVL] ...).
# The cluster is named (PYLON_CLUSTER_NAME, default "pylon"): with no name each node would make
# one up and, until all three had adopted the greatest, refuse its peers' routes with an [ERR]
# line each, as nats-server does. A node started later without --cluster_name adopts it.
# Ctrl-C (or SIGTERM) stops all three cleanly.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${PYLON_SERVER:-build/pylon-server}
[ -x "$BIN" ] || { echo "run-cluster: $BIN not built (run 'make run')" >&2; exit 1; }

pids=()
stop() {
  trap - INT TERM
  echo "run-cluster: stopping nodes ${pids[*]}" >&2
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait
  echo "run-cluster: all nodes stopped" >&2
  exit 0
}
trap stop INT TERM

start_node() {  # name client-port monitor-port route-port other-route-ports...
  local name=$1 port=$2 http=$3 route=$4
  shift 4
  local routes=()
  for r in "$@"; do routes+=("nats://127.0.0.1:$r"); done
  local IFS=,
  "$BIN" --name "$name" -a 127.0.0.1 -p "$port" -m "$http" \
    --cluster_name "$CLUSTER_NAME" --cluster "nats://127.0.0.1:$route" \
    --routes "${routes[*]}" "${PYLON_EXTRA_FLAGS[@]}" &
  pids+=($!)
  echo "run-cluster: $name pid $! — clients nats://localhost:$port, monitoring http://localhost:$http, routes localhost:$route" >&2
}

CLUSTER_NAME=${PYLON_CLUSTER_NAME:-pylon}
PYLON_EXTRA_FLAGS=()
if [ -n "${PYLON_FLAGS:-}" ]; then read -r -a PYLON_EXTRA_FLAGS <<<"$PYLON_FLAGS"; fi
start_node node-a 4222 4333 4248 5248 6248
start_node node-b 5222 5333 5248 4248 6248
start_node node-c 6222 6333 6248 4248 5248
echo "run-cluster: Ctrl-C stops the cluster" >&2
wait
