#!/usr/bin/env bash
# Memory at scale, side by side (issue 14 §3): one node holding --clients idle client
# connections and --subs subscriptions, for nats-server and pylon-server in turn. For each
# server, two runs: every subscription plain, then every one in a queue group. Reports the
# server's RSS per idle connection and per subscription, and the subscribe rate (SUBs the
# server processed per second), from bench/scale_clients.cc (see its header for how each
# figure is taken). Progress on stderr, the table on stdout. Exits 1 if a run failed.
#
# Usage: scripts/scale.sh [--clients N] [--subs N] [--markdown]
#   --clients N   idle client connections (default 15000; this machine allows 20,000
#                 descriptors per process, and the server and the clients each hold one
#                 per connection)
#   --subs N      subscriptions in all, dealt over the clients (default 1000000)
#   --markdown    print the table as Markdown (for docs/performance.md)
# Env: BUILD_DIR (default build/), PYLON_SERVER, NATS_SERVER, SCALE_CLIENTS: the binaries.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PYLON_SERVER=${PYLON_SERVER:-$BUILD_DIR/pylon-server}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server 2>/dev/null || echo /usr/sbin/nats-server)}
SCALE_CLIENTS=${SCALE_CLIENTS:-$BUILD_DIR/bench/scale_clients}
CLIENTS=15000
SUBS=1000000
MARKDOWN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) CLIENTS=$2; shift 2 ;;
    --subs) SUBS=$2; shift 2 ;;
    --markdown) MARKDOWN=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for bin in "$PYLON_SERVER" "$NATS_SERVER" "$SCALE_CLIENTS"; do
  [ -x "$bin" ] || { echo "scale.sh: $bin not found (build first: ninja -C build pylon-server scale_clients)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pylon-scale.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"  # port_open, pick_port

FAILED=0
declare -A RESULT
# run KIND(nats|pylon) QUEUE_PCT
run() {
  local kind=$1 qpct=$2 bin port out
  bin=$([ "$kind" = nats ] && echo "$NATS_SERVER" || echo "$PYLON_SERVER")
  port=$(pick_port)
  "$bin" -a 127.0.0.1 -p "$port" >"$TMP/$kind.log" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + 20))
  until port_open "$port"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "scale.sh: $kind did not start:" >&2; tail -5 "$TMP/$kind.log" >&2; exit 1
    fi
    sleep 0.05
  done
  echo "scale.sh: $kind, $CLIENTS clients, $SUBS subscriptions, ${qpct}% in a queue group" >&2
  out="$TMP/$kind-$qpct.json"
  if ! "$SCALE_CLIENTS" --port "$port" --server-pid "$SERVER_PID" --clients "$CLIENTS" --subs "$SUBS" \
      --queue-pct "$qpct" --json >"$out"; then
    FAILED=1
    echo "scale.sh: $kind (${qpct}% queue) FAILED: $(cat "$out")" >&2
  fi
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  local f
  for f in bytes_per_conn bytes_per_sub subs_per_sec rss_subs; do
    RESULT[$kind,$qpct,$f]=$(sed -n "s/.*\"$f\":\([0-9.-]*\).*/\1/p" "$out")
  done
  echo "scale.sh: $kind: $(cat "$out")" >&2
}

echo "scale.sh: nats-server: $("$NATS_SERVER" --version 2>&1 | head -n1); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for kind in nats pylon; do
  for q in 0 100; do run "$kind" "$q"; done
done

row() {
  if [ $MARKDOWN -eq 1 ]; then
    printf '| %s | %s | %s | %s |\n' "$@"
  else
    printf '%-44s %16s %16s %8s\n' "$@"
  fi
}
ratio() { awk -v n="$1" -v p="$2" 'BEGIN { if (n > 0 && p != "") printf "%.2f", p / n; else print "-" }'; }
fmt() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else printf "%.0f", v }'; }
echo
row "$CLIENTS clients, $SUBS subscriptions" nats-server pylon-server ratio
[ $MARKDOWN -eq 1 ] && echo "|---|---:|---:|---:|"
n=${RESULT[nats,0,bytes_per_conn]}; p=${RESULT[pylon,0,bytes_per_conn]}
row "RSS per idle connection (B)" "$(fmt "$n")" "$(fmt "$p")" "$(ratio "$n" "$p")"
n=${RESULT[nats,0,bytes_per_sub]}; p=${RESULT[pylon,0,bytes_per_sub]}
row "RSS per subscription, plain (B)" "$(fmt "$n")" "$(fmt "$p")" "$(ratio "$n" "$p")"
n=${RESULT[nats,100,bytes_per_sub]}; p=${RESULT[pylon,100,bytes_per_sub]}
row "RSS per subscription, queue group (B)" "$(fmt "$n")" "$(fmt "$p")" "$(ratio "$n" "$p")"
n=${RESULT[nats,0,subs_per_sec]}; p=${RESULT[pylon,0,subs_per_sec]}
row "subscribe rate, plain (SUBs/s)" "$(fmt "$n")" "$(fmt "$p")" "$(ratio "$n" "$p")"
n=${RESULT[nats,100,subs_per_sec]}; p=${RESULT[pylon,100,subs_per_sec]}
row "subscribe rate, queue group (SUBs/s)" "$(fmt "$n")" "$(fmt "$p")" "$(ratio "$n" "$p")"
n=${RESULT[nats,0,rss_subs]}; p=${RESULT[pylon,0,rss_subs]}
row "server RSS at the end, plain (MiB)" "$(awk -v v="$n" 'BEGIN { printf "%.0f", v / 1048576 }')" \
  "$(awk -v v="$p" 'BEGIN { printf "%.0f", v / 1048576 }')" "$(ratio "$n" "$p")"
exit $FAILED
