#!/usr/bin/env bash
# Where a server's CPU goes per message, in figures the machine's load does not move much
# (docs/performance.md, "Measuring on a shared machine"): one server at a time, driven by
# `pylon bench` on loopback.
#
#   callgrind  instructions per message in the server (valgrind --tool=callgrind, the server
#              with --event_loops 1): the difference between a run of 3N messages and one of
#              N, over the 2N between them, so start-up and shutdown cancel out.
#   syscalls   per message, counted by perf's tracepoints on the server process (its default
#              event loops): reads, writes, epoll waits, futex and eventfd wake-ups, context
#              switches, and the server's CPU time (utime+stime from /proc/PID/stat) per message.
#
# Usage: scripts/msgcost.sh [--server BIN] [--mode callgrind|syscalls] [--row sub|fanout|pub|queue]
#                           [--msgs N] [--size BYTES] [--ws] [--keep DIR] [--args "server flags"]
#   --server BIN  the server (default build/pylon-server; nats-server works for syscalls)
#   --mode        callgrind (default) or syscalls
#   --row         sub: 1 publisher -> 1 subscriber (default); fanout: 1 -> 4; pub: no
#                 subscriber; queue: a queue group of 4
#   --msgs N      callgrind: N (runs of N and 3N; default 50000); syscalls: messages (default 2000000)
#   --size BYTES  payload size (default 16)
#   --ws          the clients connect over WebSocket (ws://): the server gets a config file
#                 with `websocket { listen, no_tls: true }` (as scripts/bench.sh's ws rows)
#   --keep DIR    callgrind: keep both runs' profiles there (callgrind.<messages>) for
#                 callgrind_annotate
#   --args FLAGS  extra server flags (e.g. "--event_loops 1")
# Env: PYLON (default build/pylon), the bench client. Prints one line of results on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYLON=${PYLON:-$ROOT/build/pylon}
SERVER=$ROOT/build/pylon-server
MODE=callgrind
ROW=sub
MSGS=
SIZE=16
ARGS=
WS=0
KEEP=
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --row) ROW=$2; shift 2 ;;
    --msgs) MSGS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --args) ARGS=$2; shift 2 ;;
    --ws) WS=1; shift ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "msgcost.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$ROW" in
  sub) BENCH_ARGS="--pub 1 --sub 1" ;;
  fanout) BENCH_ARGS="--pub 1 --sub 4" ;;
  pub) BENCH_ARGS="--pub 1 --sub 0" ;;
  queue) BENCH_ARGS="--pub 1 --sub 4 --queue q" ;;
  *) echo "msgcost.sh: unknown row '$ROW'" >&2; exit 2 ;;
esac

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"  # port_open, pick_port
wait_port() {
  for _ in $(seq 1 600); do
    port_open "$1" && return 0
    sleep 0.05
  done
  echo "msgcost.sh: server did not listen on $1" >&2
  exit 1
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
# The server's listening flags for client port $1 (and, with --ws, a config file giving it a
# WebSocket port $2, which the clients use).
listen_args() {
  if [ "$WS" = 1 ]; then
    printf 'websocket {\n  listen: "127.0.0.1:%s"\n  no_tls: true\n}\n' "$2" >"$TMP/ws.conf"
    echo "-c $TMP/ws.conf -a 127.0.0.1 -p $1"
  else
    echo "-a 127.0.0.1 -p $1"
  fi
}
bench() {  # $1 port (the WebSocket port with --ws), $2 messages
  local scheme=nats
  [ "$WS" = 1 ] && scheme=ws
  "$PYLON" bench --no-progress --server "$scheme://127.0.0.1:$1" $BENCH_ARGS --size "$SIZE" --msgs "$2" msgcost.subject \
    >"$TMP/bench.out" 2>&1 || { cat "$TMP/bench.out" >&2; exit 1; }
}

# Instructions the server executed while serving `$1` messages (callgrind's total).
callgrind_run() {
  local port wsport out
  port=$(pick_port)
  wsport=$port
  [ "$WS" = 1 ] && wsport=$(pick_port)
  out="$TMP/cg.$1"
  # shellcheck disable=SC2046
  valgrind --tool=callgrind --callgrind-out-file="$out" "$SERVER" $(listen_args "$port" "$wsport") --event_loops 1 $ARGS \
    >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$port"
  wait_port "$wsport"
  bench "$wsport" "$1"
  stop_server
  [ -n "$KEEP" ] && cp "$out" "$KEEP/callgrind.$1"
  awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

if [ "$MODE" = callgrind ]; then
  N=${MSGS:-50000}
  a=$(callgrind_run "$N")
  b=$(callgrind_run $((3 * N)))
  echo "row=$ROW$([ "$WS" = 1 ] && echo ' ws') size=$SIZE server=$SERVER instructions/msg=$(( (b - a) / (2 * N) )) (runs of $N and $((3 * N)): $a, $b) load=$(cut -d' ' -f1 /proc/loadavg)"
  exit 0
fi

[ "$MODE" = syscalls ] || { echo "msgcost.sh: unknown mode '$MODE'" >&2; exit 2; }
N=${MSGS:-2000000}
port=$(pick_port)
wsport=$port
[ "$WS" = 1 ] && wsport=$(pick_port)
# shellcheck disable=SC2046
"$SERVER" $(listen_args "$port" "$wsport") $ARGS >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
wait_port "$port"
wait_port "$wsport"
port=$wsport
bench "$port" 1000  # connections warm, buffers grown: the counted run measures the steady state
ticks() { sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12, $13 }'; }
EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,context-switches,page-faults
read -r u0 s0 <<<"$(ticks)"
perf stat -x, -e "$EVENTS" -p "$SERVER_PID" -o "$TMP/perf.csv" &
PERF_PID=$!
sleep 0.2
bench "$port" "$N"
kill -INT "$PERF_PID"
wait "$PERF_PID" 2>/dev/null || true
read -r u1 s1 <<<"$(ticks)"
hz=$(getconf CLK_TCK)
line="row=$ROW$([ "$WS" = 1 ] && echo ' ws') size=$SIZE server=$(basename "$SERVER") msgs=$N cpu_ns/msg=$(( (u1 + s1 - u0 - s0) * 1000000000 / hz / N )) (user $(( (u1 - u0) * 1000000000 / hz / N )), sys $(( (s1 - s0) * 1000000000 / hz / N )))"
while IFS=, read -r count _ event _; do
  case "$event" in ''|\#*) continue ;; esac
  [[ $count =~ ^[0-9]+$ ]] || continue
  name=${event#*:}; name=${name#sys_enter_}
  line="$line $name=$(awk -v c="$count" -v n="$N" 'BEGIN { printf "%.4f", c / n }')"
done <"$TMP/perf.csv"
echo "$line load=$(cut -d' ' -f1 /proc/loadavg) $(grep -o '[0-9,]* msgs/sec' "$TMP/bench.out" | head -1 | tr -d ' ')"
