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
#   callgrind (--callgrind) the client under valgrind: instructions per message, the
#             difference between a run of 3N messages and one of N over 2N, so start-up
#             cancels out. --mode sub: the subscriber. --mode pub: the publisher (ours, or
#             nats.c's with --natsc), reported twice: the whole process (every thread; the
#             kernel's side of the writes is not counted) and the publish call alone (the
#             publishing thread's cost: Core::publish, or natsConnection_Publish, inclusive).
#             Under valgrind the threads take turns, so how the writes are batched is not
#             what it is natively: compare calls, and --syscalls for the batching.
#   syscalls  (--syscalls, --mode pub) perf's tracepoints on the publisher process: writes
#             (sendmsg/sendto/write/writev), futex calls, epoll waits and context switches
#             per message, and the bytes per write.
#
# Usage: scripts/clientcost.sh [--mode sub|pub] [--size BYTES] [--msgs N] [--tls] [--natsc]
#                              [--callgrind | --syscalls] [--runs K]
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
SYSCALLS=0
RUNS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --msgs) MSGS=$2; shift 2 ;;
    --tls) TLS=1; shift ;;
    --natsc) NATSC=1; shift ;;
    --callgrind) CALLGRIND=1; shift ;;
    --syscalls) SYSCALLS=1; shift ;;
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

# One publisher run of $1 messages (ours, or nats.c's with --natsc); $2...: a command
# prefix (valgrind, perf) or nothing. Leaves its JSON in $TMP/pub.json.
pub_run() {
  local n=$1
  shift
  if [ $NATSC -eq 1 ]; then
    [ $TLS -eq 0 ] || { echo "clientcost.sh: natsc_publisher has no TLS flags" >&2; exit 2; }
    "$@" "$NATSC_PUBLISHER" --server "$URL" --msgs "$n" --size "$SIZE" --subject clientcost.subject \
      >"$TMP/pub.json" 2>"$TMP/pub.err" || { cat "$TMP/pub.err" >&2; exit 1; }
  else
    "$@" "$PYLON" bench --no-progress --json --server "$URL" "${TLS_FLAGS[@]}" --pub 1 --sub 0 --size "$SIZE" \
      --msgs "$n" --timeout 600 clientcost.subject >"$TMP/pub.json" 2>"$TMP/pub.err" ||
      { cat "$TMP/pub.err" >&2; exit 1; }
  fi
}
if [ $NATSC -eq 1 ]; then WHO=nats.c; PUBLISH_FN=natsConnection_Publish; else WHO=$PYLON; PUBLISH_FN='pylon::client::Core::publish('; fi

if [ $CALLGRIND -eq 1 ]; then
  N=${MSGS:-100000}
  total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
  # The inclusive instructions of the function named $2 (callgrind_annotate's first column).
  # (Into a file first: a reader that stops early would end callgrind_annotate with SIGPIPE.)
  inclusive() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" >"$1.txt" 2>/dev/null
    awk -v f="$2" 'index($0, f) { gsub(/,/, "", $1); print $1 + 0; exit }' "$1.txt"
  }
  if [ "$MODE" = sub ]; then
    sub_run "$N" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.a"
    sub_run $((3 * N)) valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.b"
    a=$(total "$TMP/cg.a")
    b=$(total "$TMP/cg.b")
    echo "mode=sub size=$SIZE tls=$TLS client=$PYLON instructions/msg=$(( (b - a) / (2 * N) )) (runs of $N and $((3 * N)): $a, $b) load=$(load)"
    exit 0
  fi
  for r in $(seq 1 "$RUNS"); do
    pub_run "$N" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.a"
    pub_run $((3 * N)) valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.b"
    a=$(total "$TMP/cg.a")
    b=$(total "$TMP/cg.b")
    ca=$(inclusive "$TMP/cg.a" "$PUBLISH_FN")
    cb=$(inclusive "$TMP/cg.b" "$PUBLISH_FN")
    echo "mode=pub size=$SIZE tls=$TLS client=$WHO run=$r instructions/msg=$(( (b - a) / (2 * N) )) publish_call/msg=$(( (cb - ca) / (2 * N) )) (runs of $N and $((3 * N)): $a, $b; calls $ca, $cb) load=$(load)"
  done
  exit 0
fi

if [ $SYSCALLS -eq 1 ]; then
  [ "$MODE" = pub ] || { echo "clientcost.sh: --syscalls measures the publisher (--mode pub)" >&2; exit 2; }
  N=${MSGS:-10000000}
  EVENTS=syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,context-switches
  for r in $(seq 1 "$RUNS"); do
    pub_run "$N" perf stat -x, -e "$EVENTS" -o "$TMP/perf.csv" --
    declare -A count=()
    while IFS=, read -r value _ event _; do
      [ -n "$event" ] && count[$event]=${value%%.*}
    done < <(grep -v '^#' "$TMP/perf.csv" | grep ,)
    n_of() { local v=${count[$1]:-0}; [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0; }
    writes=$(( $(n_of syscalls:sys_enter_sendmsg) + $(n_of syscalls:sys_enter_sendto) + $(n_of syscalls:sys_enter_write) + $(n_of syscalls:sys_enter_writev) ))
    wire=$(( N * (${#SIZE} + SIZE + 27) ))  # "PUB clientcost.subject <size>\r\n<data>\r\n"
    awk -v n="$N" -v w="$writes" -v f="$(n_of syscalls:sys_enter_futex)" \
      -v e="$(( $(n_of syscalls:sys_enter_epoll_wait) + $(n_of syscalls:sys_enter_epoll_pwait) ))" \
      -v cs="$(n_of context-switches)" -v b="$wire" -v who="$WHO" -v size="$SIZE" -v r="$r" -v load="$(load)" \
      'BEGIN { printf "mode=pub size=%s client=%s run=%s msgs=%d writes/msg=%.5f bytes/write=%.0f futex/msg=%.5f epoll_waits/msg=%.5f cswitches/msg=%.5f load=%s\n", size, who, r, n, w / n, w ? b / w : 0, f / n, e / n, cs / n, load }'
    unset count
  done
  exit 0
fi

for r in $(seq 1 "$RUNS"); do
  if [ "$MODE" = sub ]; then
    N=${MSGS:-2000000}
    sub_run "$N"
    out=$TMP/sub.json
    who=$PYLON
  else
    N=${MSGS:-10000000}
    pub_run "$N"
    out=$TMP/pub.json
    who=$WHO
  fi
  rate=$(json_num "$out" msgs_per_sec)
  cpu=$(json_num "$out" client_cpu_ms)
  printf 'mode=%s size=%s tls=%s client=%s run=%s msgs=%s msgs/s=%.0f client_cpu_ns/msg=%.0f load=%s\n' \
    "$MODE" "$SIZE" "$TLS" "$who" "$r" "$N" "$rate" "$(awk -v c="$cpu" -v n="$N" 'BEGIN { print c * 1e6 / n }')" "$(load)"
done
