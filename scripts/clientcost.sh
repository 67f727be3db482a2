#!/usr/bin/env bash
# What the client library (src/client/, driven by `pylon bench`) costs per message, in
# figures a loaded machine moves little (docs/performance.md, "Measuring on a shared
# machine"). One nats-server on loopback, whose max_pending is raised so that a subscriber
# that lags is never cut: only the client under test varies between two builds.
#
#   sub       `pylon bench --pub 0 --sub 1` consumes N messages that a second, fixed
#             publisher (PUB_PYLON, default the same binary) sends as fast as it can.
#             Reports the subscriber's msgs/s and its process CPU per message (getrusage:
#             user + system, every thread, start-up included; use --msgs large enough).
#   pub       `pylon bench --pub 1` alone (the client rows of scripts/bench.sh), or with
#             --natsc nats.c's publisher (build/bench/natsc_publisher) for comparison.
#   callgrind (--callgrind) the subscriber under valgrind: instructions per message, the
#             difference between a run of 3N messages and one of N over 2N, so start-up
#             cancels out.
#
# Usage: scripts/clientcost.sh [--mode sub|pub] [--size BYTES] [--msgs N] [--tls] [--natsc]
#                              [--callgrind] [--runs K]
# Env: PYLON (default build/pylon) the client under test; PUB_PYLON the sub mode's feeder
# (default PYLON); NATSC_PUBLISHER; NATS_SERVER (default /usr/sbin/nats-server).
# Prints one line per run on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYLON=${PYLON:-$ROOT/build/pylon}
PUB_PYLON=${PUB_PYLON:-$PYLON}
NATSC_PUBLISHER=${NATSC_PUBLISHER:-$ROOT/build/bench/natsc_publisher}
NATS_SERVER=${NATS_SERVER:-/usr/sbin/nats-server}
MODE=sub
SIZE=16
MSGS=
TLS=0
NATSC=0
CALLGRIND=0
RUNS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --msgs) MSGS=$2; shift 2 ;;
    --tls) TLS=1; shift ;;
    --natsc) NATSC=1; shift ;;
    --callgrind) CALLGRIND=1; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "clientcost.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$MODE" in sub|pub) ;; *) echo "clientcost.sh: unknown mode '$MODE'" >&2; exit 2 ;; esac

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"  # port_open, pick_port
json_num() { grep -o "\"$2\":[0-9.e+-]*" "$1" | head -1 | cut -d: -f2; }
load() { cut -d' ' -f1 /proc/loadavg; }

PORT=$(pick_port)
MPORT=$(pick_port)
TLS_FLAGS=()
SCHEME=nats
{
  echo "listen: 127.0.0.1:$PORT"
  echo "http: 127.0.0.1:$MPORT"
  echo "max_pending: 4294967296"  # a lagging subscriber is never a slow consumer here
  echo 'write_deadline: "120s"'
  if [ $TLS -eq 1 ]; then
    "$ROOT/tests/common/make-test-certs.sh" "$TMP/certs" >/dev/null
    echo "tls { cert_file: \"$TMP/certs/server.pem\", key_file: \"$TMP/certs/server-key.pem\" }"
  fi
} >"$TMP/server.conf"
if [ $TLS -eq 1 ]; then
  TLS_FLAGS=(--tlscacert "$TMP/certs/ca.pem")
  SCHEME=tls
fi
URL="$SCHEME://127.0.0.1:$PORT"
"$NATS_SERVER" -c "$TMP/server.conf" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do port_open "$PORT" && break; sleep 0.05; done
port_open "$PORT" || { cat "$TMP/server.log" >&2; echo "clientcost.sh: server did not start" >&2; exit 1; }

subs_now() { local n; n=$(curl -s "http://127.0.0.1:$MPORT/subsz" | grep -o "\"num_subscriptions\": *[0-9]*" | tr -dc 0-9); echo "${n:-0}"; }

# One subscriber run of $1 messages; $2: a command prefix (valgrind) or empty. Leaves the
# subscriber's JSON in $TMP/sub.json.
sub_run() {
  local n=$1 base
  shift
  base=$(subs_now)
  "$@" "$PYLON" bench --no-progress --json --server "$URL" "${TLS_FLAGS[@]}" --pub 0 --sub 1 --size "$SIZE" \
    --msgs "$n" --timeout 600 clientcost.subject >"$TMP/sub.json" 2>"$TMP/sub.err" &
  local sub_pid=$!
  for _ in $(seq 1 1200); do
    [ "$(subs_now)" -gt "$base" ] && break
    kill -0 "$sub_pid" 2>/dev/null || break
    sleep 0.05
  done
  "$PUB_PYLON" bench --no-progress --json --server "$URL" "${TLS_FLAGS[@]}" --pub 1 --sub 0 --size "$SIZE" \
    --msgs "$n" --timeout 600 clientcost.subject >"$TMP/pub.json" 2>"$TMP/pub.err" ||
    { cat "$TMP/pub.err" >&2; exit 1; }
  wait "$sub_pid" || { cat "$TMP/sub.err" >&2; exit 1; }
}

if [ $CALLGRIND -eq 1 ]; then
  [ "$MODE" = sub ] || { echo "clientcost.sh: --callgrind measures the subscriber (--mode sub)" >&2; exit 2; }
  N=${MSGS:-100000}
  total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
  sub_run "$N" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.a"
  sub_run $((3 * N)) valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.b"
  a=$(total "$TMP/cg.a")
  b=$(total "$TMP/cg.b")
  echo "mode=sub size=$SIZE tls=$TLS client=$PYLON instructions/msg=$(( (b - a) / (2 * N) )) (runs of $N and $((3 * N)): $a, $b) load=$(load)"
  exit 0
fi

for r in $(seq 1 "$RUNS"); do
  if [ "$MODE" = sub ]; then
    N=${MSGS:-2000000}
    sub_run "$N"
    out=$TMP/sub.json
    who=$PYLON
  elif [ $NATSC -eq 1 ]; then
    N=${MSGS:-10000000}
    [ $TLS -eq 0 ] || { echo "clientcost.sh: natsc_publisher has no TLS flags" >&2; exit 2; }
    "$NATSC_PUBLISHER" --server "$URL" --msgs "$N" --size "$SIZE" --subject clientcost.subject >"$TMP/pub.json"
    out=$TMP/pub.json
    who=nats.c
  else
    N=${MSGS:-10000000}
    "$PYLON" bench --no-progress --json --server "$URL" "${TLS_FLAGS[@]}" --pub 1 --sub 0 --size "$SIZE" \
      --msgs "$N" --timeout 600 clientcost.subject >"$TMP/pub.json" 2>"$TMP/pub.err" ||
      { cat "$TMP/pub.err" >&2; exit 1; }
    out=$TMP/pub.json
    who=$PYLON
  fi
  rate=$(json_num "$out" msgs_per_sec)
  cpu=$(json_num "$out" client_cpu_ms)
  printf 'mode=%s size=%s tls=%s client=%s run=%s msgs=%s msgs/s=%.0f client_cpu_ns/msg=%.0f load=%s\n' \
    "$MODE" "$SIZE" "$TLS" "$who" "$r" "$N" "$rate" "$(awk -v c="$cpu" -v n="$N" 'BEGIN { print c * 1e6 / n }')" "$(load)"
done
