#!/usr/bin/env bash
# Side-by-side benchmark of nats-server and pylon-server (what `make bench` runs).
#
# The matrix of issues 12 and 14: pub-only, 1->1, fan-out 1->4 and a queue group of 4 at
# 16 B, 1 KiB and 64 KiB; request/reply latency with 1 and 50 requesters; cross-node (a
# 3-node cluster of each server, publisher or requesters on node A, subscriber or replier on
# node B); the same over
# TLS; pub->sub over WebSocket (issue 15: both servers given the same
# `websocket { no_tls: true }` block, Pylon's client library at both ends); a TLS connect storm;
# and the client libraries (Pylon's against the official C
# client, nats.c, each publishing alone to one nats-server: the "client" rows, where the
# figure is the client's own CPU per message, from its getrusage). Each setup (one node, one node with TLS, 3 nodes, 3 nodes
# with TLS routes; the 3-node ones with a max_pending that holds a whole run, so a lagging
# subscriber is not cut) is started for one server at a time, so the servers never compete for
# the CPUs; its rows run; it is stopped (SIGTERM, by PID). A round does every setup for
# both servers, in alternating order from round to round, so a drift in machine load hits
# both alike. Each figure is the median over the rounds, with its spread (half the range,
# as a % of the median). Server CPU per message is the server processes' utime+stime
# (/proc/PID/stat; all 3 nodes for a cluster) over the row, divided by the messages
# published (requests, for request/reply). Progress on stderr, the tables on stdout.
# Exits 1 if any run failed. See docs/performance.md.
#
# Usage: scripts/bench.sh [--runs N] [--scale X] [--only TAGS] [--skip TAGS] [--quick]
#                         [--storm-clients N] [--timeout SECS] [--markdown] [--list]
#   --runs N           rounds per server, median taken (default 3; env BENCH_RUNS)
#   --scale X          multiply every row's message count (default 1; env BENCH_SCALE)
#   --only TAGS        only the rows with one of these tags (comma-separated; see --list),
#                      e.g. --only tls, --only req,storm
#   --skip TAGS        leave out the rows with one of these tags, e.g. --skip 64k,storm
#   --quick            a smoke run: --runs 1 --scale 0.1 --storm-clients 500 (options after
#                      it override these)
#   --storm-clients N  TLS clients of the connect storm (default 2000)
#   --timeout S        limit of one client run in seconds (default 60; env BENCH_TIMEOUT)
#   --markdown         print the tables as Markdown (for docs/performance.md)
#   --list             list the rows and their tags, and exit
# Env: BUILD_DIR (default build/), PYLON, PYLON_SERVER, NATS_SERVER, CONNECT_STORM,
#      NATSC_PUBLISHER: the binaries. NATS_LABEL: the baseline's name in the tables (e.g. "before" when
#      NATS_SERVER is an older pylon-server, to measure a change side by side). PYLON_ARGS,
#      NATS_ARGS: extra flags for every pylon-server / baseline server started, e.g. the
#      event loops against each other (docs/performance.md): NATS_SERVER=build/pylon-server
#      NATS_ARGS="--event_loops 1" NATS_LABEL="1 loop" PYLON_ARGS="--event_loops 2".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PYLON=${PYLON:-$BUILD_DIR/pylon}
PYLON_SERVER=${PYLON_SERVER:-$BUILD_DIR/pylon-server}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server 2>/dev/null || echo /usr/sbin/nats-server)}
CONNECT_STORM=${CONNECT_STORM:-$BUILD_DIR/bench/connect_storm}
NATSC_PUBLISHER=${NATSC_PUBLISHER:-$BUILD_DIR/bench/natsc_publisher}
RUNS=${BENCH_RUNS:-3}
SCALE=${BENCH_SCALE:-1}
TIMEOUT=${BENCH_TIMEOUT:-60}
MARKDOWN=0
ONLY=
SKIP=
STORM_CLIENTS=
LIST=0

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --scale) SCALE=$2; shift 2 ;;
    --scale=*) SCALE=${1#*=}; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    --skip) SKIP=$2; shift 2 ;;
    --skip=*) SKIP=${1#*=}; shift ;;
    --storm-clients) STORM_CLIENTS=$2; shift 2 ;;
    --storm-clients=*) STORM_CLIENTS=${1#*=}; shift ;;
    --quick) RUNS=1; SCALE=0.1; STORM_CLIENTS=${STORM_CLIENTS:-500}; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    --markdown) MARKDOWN=1; shift ;;
    --list) LIST=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
STORM_CLIENTS=${STORM_CLIENTS:-2000}

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "bench.sh: $*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "--scale must be a positive number"
[[ $STORM_CLIENTS =~ ^[1-9][0-9]*$ ]] || die "--storm-clients must be a positive integer"
# max_pending of the 3-node setups: a whole cross-node run's bytes on the wire (the 1 KiB
# rows: 500,000 messages of about 1,060 bytes at scale 1), and never below the default.
CLUSTER_MAX_PENDING=$(awk -v s="$SCALE" 'BEGIN { mb = int(500000 * 1100 * s / 1048576) + 1; if (mb < 64) mb = 64; print mb "MB" }')

# Rows: name | setup | tags | kind | messages at scale 1 (requests; clients for the storm)
#       | arguments of `pylon bench` ({A}: node A's URL, {B}: node B's; one node: both the same).
# setup: plain (one node), tls (one node, tls {}), ws (one node with `websocket { no_tls:
# true }`; {A} and --server are its ws:// URL), cluster (3 nodes), cluster-tls (3 nodes,
# TLS for clients and routes), accounts (one node, two accounts: the requesters in A call
# B's service through A's service import; {A} is A's user, {B} B's), client (one
# nats-server for both sides). kind: bench (msgs/s),
# req (latency), storm (connect_storm), client (nats.c's publisher against `pylon bench`).
# Counts are sized for a few seconds each against nats-server on a 2-core machine: one round
# of every row took 3 min 54 s there under a load average of 9-11 (docs/performance.md).
ROWS=(
  "pub 16 B|plain|pub,16b|bench|10000000|--pub 1 --sub 0 --size 16"
  "pub 1 KiB|plain|pub,1k|bench|2000000|--pub 1 --sub 0 --size 1024"
  "pub 64 KiB|plain|pub,64k|bench|30000|--pub 1 --sub 0 --size 65536"
  "pub->sub 16 B|plain|sub,16b|bench|5000000|--pub 1 --sub 1 --size 16"
  "pub->sub 1 KiB|plain|sub,1k|bench|500000|--pub 1 --sub 1 --size 1024"
  "pub->sub 64 KiB|plain|sub,64k|bench|15000|--pub 1 --sub 1 --size 65536"
  "fan-out 1->4 16 B|plain|fanout,16b|bench|2000000|--pub 1 --sub 4 --size 16"
  "fan-out 1->4 1 KiB|plain|fanout,1k|bench|250000|--pub 1 --sub 4 --size 1024"
  "queue group of 4, 16 B|plain|queue,16b|bench|3000000|--pub 1 --sub 4 --queue q --size 16"
  "queue group of 4, 1 KiB|plain|queue,1k|bench|1000000|--pub 1 --sub 4 --queue q --size 1024"
  "req/reply, 1 requester, 16 B|plain|req,16b|req|10000|--req 1 --size 16"
  "req/reply, 50 requesters, 16 B|plain|req,16b|req|50000|--req 50 --size 16"
  "req/reply via a service import, 1 requester, 16 B|accounts|req,16b,accounts|req|10000|--req 1 --size 16 --sub-server {B}"
  "req/reply via a service import, 50 requesters, 16 B|accounts|req,16b,accounts|req|50000|--req 50 --size 16 --sub-server {B}"
  "cross-node req/reply, 1 requester, 16 B|cluster|req,16b,cluster|req|10000|--req 1 --size 16 --sub-server {B}"
  "cross-node req/reply, 50 requesters, 16 B|cluster|req,16b,cluster|req|50000|--req 50 --size 16 --sub-server {B}"
  "cross-node pub->sub 16 B|cluster|cluster,16b|bench|3000000|--pub 1 --sub 1 --size 16 --sub-server {B}"
  "cross-node pub->sub 1 KiB|cluster|cluster,1k|bench|500000|--pub 1 --sub 1 --size 1024 --sub-server {B}"
  "TLS pub 16 B|tls|tls,pub,16b|bench|10000000|--pub 1 --sub 0 --size 16"
  "TLS pub 1 KiB|tls|tls,pub,1k|bench|1000000|--pub 1 --sub 0 --size 1024"
  "TLS pub->sub 1 KiB|tls|tls,sub,1k|bench|500000|--pub 1 --sub 1 --size 1024"
  "TLS cross-node pub->sub 1 KiB|cluster-tls|tls,cluster,1k|bench|500000|--pub 1 --sub 1 --size 1024 --sub-server {B}"
  "TLS connect storm|tls|tls,storm|storm|0|"
  "WebSocket pub->sub 16 B|ws|ws,sub,16b|bench|2000000|--pub 1 --sub 1 --size 16"
  "WebSocket pub->sub 1 KiB|ws|ws,sub,1k|bench|500000|--pub 1 --sub 1 --size 1024"
  "client publish 16 B|client|client,pub,16b|client|10000000|--pub 1 --sub 0 --size 16"
  "client publish 1 KiB|client|client,pub,1k|client|2000000|--pub 1 --sub 0 --size 1024"
)

has_tag() {  # has_tag "a,b" "b,c": true when the lists share a tag
  local t
  for t in ${2//,/ }; do
    case ",$1," in *",$t,"*) return 0 ;; esac
  done
  return 1
}
SELECTED=()
for i in "${!ROWS[@]}"; do
  IFS='|' read -r name setup tags kind msgs args <<<"${ROWS[$i]}"
  has_tag "$tags" "$setup" || tags="$tags,$setup"
  [ -n "$ONLY" ] && ! has_tag "$tags" "$ONLY" && continue
  [ -n "$SKIP" ] && has_tag "$tags" "$SKIP" && continue
  SELECTED+=("$i")
done
if [ $LIST -eq 1 ]; then
  printf '%-34s %-12s %s\n' row setup tags
  for i in "${!ROWS[@]}"; do
    IFS='|' read -r name setup tags kind msgs args <<<"${ROWS[$i]}"
    has_tag "$tags" "$setup" || tags="$tags,$setup"
    printf '%-34s %-12s %s\n' "$name" "$setup" "$tags"
  done
  exit 0
fi
[ ${#SELECTED[@]} -gt 0 ] || die "no row has a tag of --only '$ONLY' (see --list)"

need_storm=0
need_natsc=0
need_tls=0
SETUPS=()
for i in "${SELECTED[@]}"; do
  IFS='|' read -r name setup tags kind msgs args <<<"${ROWS[$i]}"
  [ "$kind" = storm ] && need_storm=1
  [ "$kind" = client ] && need_natsc=1
  case "$setup" in tls|cluster-tls) need_tls=1 ;; esac
  case " ${SETUPS[*]-} " in *" $setup "*) ;; *) SETUPS+=("$setup") ;; esac
done
for bin in "$PYLON" "$PYLON_SERVER" "$NATS_SERVER"; do
  [ -x "$bin" ] || die "$bin not found or not executable (build first: cmake -S . -B build -G Ninja && ninja -C build pylon pylon-server connect_storm)"
done
[ $need_storm -eq 0 ] || [ -x "$CONNECT_STORM" ] || die "$CONNECT_STORM not found (build it: ninja -C build connect_storm)"
[ $need_natsc -eq 0 ] || [ -x "$NATSC_PUBLISHER" ] || die "$NATSC_PUBLISHER not found (build it: ninja -C build natsc_publisher; needs libnats-dev)"
for setup in "${SETUPS[@]}"; do
  case "$setup" in cluster*) command -v curl >/dev/null || die "curl is needed to see the cluster's routes (scripts/install-deps.sh)" ;; esac
done

SERVERS=(nats pylon)
NATS_LABEL=${NATS_LABEL:-nats-server}
server_label() { case "$1" in nats) echo "$NATS_LABEL" ;; pylon) echo pylon-server ;; esac; }
server_bin() { case "$1" in nats) echo "$NATS_SERVER" ;; pylon) echo "$PYLON_SERVER" ;; esac; }
PYLON_ARGS=${PYLON_ARGS:-}
NATS_ARGS=${NATS_ARGS:-}
server_args() { case "$1" in nats) echo "$NATS_ARGS" ;; pylon) echo "$PYLON_ARGS" ;; esac; }
# The client of a "client" row: nats.c's publisher on the baseline's side, ours on Pylon's.
client_label() { case "$1" in nats) echo "nats.c" ;; pylon) echo "pylon client" ;; esac; }
CLK_TCK=$(getconf CLK_TCK)
# utime+stime of a process in clock ticks (fields 14 and 15, counted after the ")" that ends
# the command name, which may itself hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# Of every process of the running setup.
setup_ticks() {
  local pid sum=0 t
  for pid in "${SERVER_PIDS[@]}"; do
    t=$(cpu_ticks "$pid" 2>/dev/null || echo 0)
    sum=$((sum + t))
  done
  echo "$sum"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pylon-bench.XXXXXX")
SERVER_PIDS=()
CLIENT_PID=
URL_A=
URL_B=
CERTS="$TMP/certs"
if [ $need_tls -eq 1 ]; then
  bash "$ROOT/tests/common/make-test-certs.sh" "$CERTS" || die "cannot make the test certificates"
fi

stop_setup() {
  local pid deadline
  for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do
    deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        log "server $pid ignored SIGTERM for 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}
cleanup() {
  if [ -n "$CLIENT_PID" ]; then
    kill -TERM "$CLIENT_PID" 2>/dev/null || true
    wait "$CLIENT_PID" 2>/dev/null || true
  fi
  stop_setup
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"  # port_open, pick_port

tls_block() {
  printf 'tls {\n  cert_file: "%s"\n  key_file: "%s"\n  ca_file: "%s"\n}\n' \
    "$CERTS/server.pem" "$CERTS/server-key.pem" "$CERTS/ca.pem"
}

# Account B exports the benchmark's subject as a service; account A imports it. A request
# from A's user travels through the import (its reply subject mapped, as the reference's
# _R_ replies) to B's repliers, and the reply back.
accounts_block() {
  cat <<'CONF'
accounts {
  A: {
    users: [ { user: a, password: a } ]
    imports: [ { service: { account: B, subject: "bench.subject" } } ]
  }
  B: {
    users: [ { user: b, password: b } ]
    exports: [ { service: "bench.subject" } ]
  }
}
CONF
}

# The number in /varz's "routes" of the node whose monitoring port is $1 (empty if none).
varz_routes() {
  curl -s --max-time 2 "http://127.0.0.1:$1/varz" 2>/dev/null | grep -o '"routes": *[0-9]*' | grep -o '[0-9]*$' || true
}

# start_setup nats|pylon SETUP: starts the server(s), sets SERVER_PIDS, URL_A and URL_B once
# every client port accepts (and, for a cluster, every node has its 2 routes).
start_setup() {
  local kind=$1 setup=$2 attempt bin i n ok deadline pid
  bin=$(server_bin "$kind")
  [ "$setup" = client ] && bin=$NATS_SERVER  # both clients publish to the reference server
  for attempt in 1 2 3; do
    ports_forget
    SERVER_PIDS=()
    local ports=() rports=() hports=() wsport=
    case "$setup" in plain|tls|client|accounts|ws) n=1 ;; *) n=3 ;; esac
    [ "$setup" = ws ] && wsport=$(pick_port)
    for i in $(seq 1 "$n"); do
      ports+=("$(pick_port)")
      if [ "$n" -gt 1 ]; then rports+=("$(pick_port)"); hports+=("$(pick_port)"); fi
    done
    for i in $(seq 0 $((n - 1))); do
      local logf="$TMP/$kind-$setup-$i.log" conf="$TMP/$kind-$setup-$i.conf"
      if [ "$setup" = plain ] || [ "$setup" = client ]; then
        # shellcheck disable=SC2046
        "$bin" $(server_args "$kind") -a 127.0.0.1 -p "${ports[$i]}" >"$logf" 2>&1 &
      else
        {
          echo "listen: 127.0.0.1:${ports[$i]}"
          case "$setup" in tls|cluster-tls) tls_block ;; esac
          [ "$setup" = accounts ] && accounts_block
          [ "$setup" = ws ] && printf 'websocket {\n  listen: "127.0.0.1:%s"\n  no_tls: true\n}\n' "$wsport"
          if [ "$n" -gt 1 ]; then
            # Cross-node, the subscriber (a client sharing the 2 cores with 3 servers) can be
            # slower than the route; neither server stalls a route for a slow receiver, so
            # its backlog forms on node B and the default 64 MB cuts it as a slow consumer
            # whenever B's route reader outruns it. These rows measure delivery across a
            # route, not that cut: both servers get room for a whole run's backlog, and a
            # lagging subscriber makes the row client-limited (docs/performance.md).
            echo "max_pending: $CLUSTER_MAX_PENDING"
            echo "server_name: bench-$i"
            echo "http: 127.0.0.1:${hports[$i]}"
            echo "cluster {"
            echo "  name: bench"
            echo "  listen: 127.0.0.1:${rports[$i]}"
            local routes="" j
            for j in $(seq 0 $((n - 1))); do
              [ "$j" -eq "$i" ] || routes="$routes${routes:+, }nats-route://127.0.0.1:${rports[$j]}"
            done
            echo "  routes: [$routes]"
            [ "$setup" = cluster-tls ] && tls_block | sed 's/^/  /'
            echo "}"
          fi
        } >"$conf"
        # shellcheck disable=SC2046
        "$bin" $(server_args "$kind") -c "$conf" >"$logf" 2>&1 &
      fi
      SERVER_PIDS+=("$!")
    done
    ok=1
    deadline=$((SECONDS + 20))
    for i in $(seq 0 $((n - 1))); do
      while ! port_open "${ports[$i]}"; do
        if ! kill -0 "${SERVER_PIDS[$i]}" 2>/dev/null || [ $SECONDS -ge $deadline ]; then ok=0; break; fi
        sleep 0.02
      done
      [ $ok -eq 1 ] || break
    done
    if [ $ok -eq 1 ] && [ -n "$wsport" ]; then
      while ! port_open "$wsport"; do
        if ! kill -0 "${SERVER_PIDS[0]}" 2>/dev/null || [ $SECONDS -ge $deadline ]; then ok=0; break; fi
        sleep 0.02
      done
    fi
    if [ $ok -eq 1 ] && [ "$n" -gt 1 ]; then
      for i in $(seq 0 $((n - 1))); do
        while [ "$(varz_routes "${hports[$i]}")" != $((n - 1)) ]; do
          if ! kill -0 "${SERVER_PIDS[$i]}" 2>/dev/null || [ $SECONDS -ge $deadline ]; then ok=0; break; fi
          sleep 0.05
        done
        [ $ok -eq 1 ] || break
      done
    fi
    if [ $ok -eq 1 ]; then
      local scheme=nats
      case "$setup" in tls|cluster-tls) scheme=tls ;; esac
      URL_A="$scheme://127.0.0.1:${ports[0]}"
      URL_B=$URL_A  # one node: A and B are the same
      [ "$n" -gt 1 ] && URL_B="$scheme://127.0.0.1:${ports[1]}"
      if [ "$setup" = accounts ]; then
        URL_A="$scheme://a:a@127.0.0.1:${ports[0]}"
        URL_B="$scheme://b:b@127.0.0.1:${ports[0]}"
      fi
      if [ "$setup" = ws ]; then
        URL_A="ws://127.0.0.1:$wsport"
        URL_B=$URL_A
      fi
      return 0
    fi
    log "$(server_label "$kind") ($setup) did not come up (attempt $attempt); its log(s):"
    for i in $(seq 0 $((n - 1))); do tail -n 10 "$TMP/$kind-$setup-$i.log" >&2 || true; done
    for pid in "${SERVER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    SERVER_PIDS=()
  done
  die "cannot start $(server_label "$kind") ($setup)"
}

setup_alive() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# Results: "kind<TAB>row<TAB>metric<TAB>value" per run and metric; "kind<TAB>row<TAB>FAIL<TAB>1".
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
FAILED=0
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
json_num() { sed -n "s/.*\"$2\":\(-\{0,1\}[0-9.]*\).*/\1/p" "$1" | head -n1; }

# run_row KIND ROW-INDEX ROUND SETUP
run_row() {
  local kind=$1 i=$2 round=$3 setup=$4 name s_setup tags rkind msgs args out err rc=0 t0 t1 cmd=()
  IFS='|' read -r name s_setup tags rkind msgs args <<<"${ROWS[$i]}"
  out="$TMP/run.json"
  err="$TMP/run.err"
  local tlsargs=()
  case "$setup" in tls|cluster-tls) tlsargs=(--tlscacert "$CERTS/ca.pem") ;; esac
  if [ "$rkind" = client ] && [ "$kind" = nats ]; then
    msgs=$(awk -v m="$msgs" -v s="$SCALE" 'BEGIN { n = int(m * s); if (n < 1) n = 1; print n }')
    local size
    size=$(sed -n 's/.*--size \([0-9]*\).*/\1/p' <<<"$args")
    cmd=("$NATSC_PUBLISHER" --server "$URL_A" --msgs "$msgs" --size "$size")
  elif [ "$rkind" = storm ]; then
    msgs=$STORM_CLIENTS
    cmd=("$CONNECT_STORM" --port "${URL_A##*:}" --cacert "$CERTS/ca.pem" --clients "$msgs" --timeout 120 --json
         --no-progress)
  else
    msgs=$(awk -v m="$msgs" -v s="$SCALE" 'BEGIN { n = int(m * s); if (n < 1) n = 1; print n }')
    args=${args//\{A\}/$URL_A}
    args=${args//\{B\}/$URL_B}
    # shellcheck disable=SC2206  # the row's arguments are words without spaces
    cmd=("$PYLON" bench bench.subject --server "$URL_A" $args --msgs "$msgs" --timeout "$TIMEOUT" --json
         --no-progress "${tlsargs[@]}")
  fi
  # In the background so that a signal to this script is handled at once (bash runs traps
  # only between foreground commands).
  "${cmd[@]}" >"$out" 2>"$err" &
  CLIENT_PID=$!
  t0=$(setup_ticks)
  wait "$CLIENT_PID" || rc=$?
  CLIENT_PID=
  t1=$(setup_ticks)
  local label="[round $round/$RUNS] $(server_label "$kind") | $name"
  [ "$rkind" = client ] && label="[round $round/$RUNS] $(client_label "$kind") on $(server_label nats) | $name"
  local cpu_ns
  cpu_ns=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v m="$msgs" 'BEGIN { printf "%.1f", (b - a) * 1e9 / hz / m }')
  case "$rkind" in
    client)
      local rate ccpu
      rate=$(sed -n 's/.*"overall":{[^}]*"msgs_per_sec":\([0-9.]*\).*/\1/p' "$out")
      ccpu=$(json_num "$out" client_cpu_ms)
      if [ $rc -ne 0 ] || [ -z "$rate" ] || [ -z "$ccpu" ] || ! grep -q '"complete":true' "$out"; then
        rc=1
      else
        ccpu=$(awk -v c="$ccpu" -v m="$msgs" 'BEGIN { printf "%.1f", c * 1e6 / m }')
        record "$kind" "$i" rate "$rate"
        record "$kind" "$i" ccpu "$ccpu"
        record "$kind" "$i" cpu "$cpu_ns"
        log "$label: $(printf '%.0f' "$rate") msgs/s, client CPU $ccpu ns/msg, server CPU $cpu_ns ns/msg"
      fi
      ;;
    bench|req)
      local rate
      rate=$(sed -n 's/.*"overall":{[^}]*"msgs_per_sec":\([0-9.]*\).*/\1/p' "$out")
      if [ $rc -ne 0 ] || [ -z "$rate" ] || ! grep -q '"complete":true' "$out"; then
        rc=1
      else
        record "$kind" "$i" rate "$rate"
        record "$kind" "$i" cpu "$cpu_ns"
        if [ "$rkind" = req ]; then
          local p50 p99 p999
          p50=$(json_num "$out" p50); p99=$(json_num "$out" p99); p999=$(json_num "$out" p999)
          record "$kind" "$i" p50 "$p50"; record "$kind" "$i" p99 "$p99"; record "$kind" "$i" p999 "$p999"
          log "$label: $(printf '%.0f' "$rate") req/s, round trip p50 $p50 us, p99 $p99 us, p99.9 $p999 us, server CPU $cpu_ns ns/req"
        else
          log "$label: $(printf '%.0f' "$rate") msgs/s, server CPU $cpu_ns ns/msg"
        fi
      fi
      ;;
    storm)
      # Not complete (some client gave up) is a result here, not a failure of the run.
      if [ -s "$out" ] && grep -q '"clients"' "$out"; then
        local all p50 p99 fa gaveup cpu_ms client_ms
        all=$(json_num "$out" all_connected_s); p50=$(json_num "$out" p50); p99=$(json_num "$out" p99)
        client_ms=$(json_num "$out" client_cpu_ms)
        fa=$(json_num "$out" failed_attempts); gaveup=$(json_num "$out" failed)
        cpu_ms=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", (b - a) * 1e3 / hz }')
        [ "$all" = "-1.000" ] || record "$kind" "$i" all "$all"
        record "$kind" "$i" p50 "$p50"; record "$kind" "$i" p99 "$p99"
        record "$kind" "$i" attempts "$fa"; record "$kind" "$i" gaveup "$gaveup"; record "$kind" "$i" cpu_ms "$cpu_ms"
        record "$kind" "$i" client_ms "$client_ms"
        log "$label: $msgs clients all connected after ${all} s (-1: not all), setup p50 $p50 ms, p99 $p99 ms, failed attempts $fa, gave up $gaveup, server CPU $cpu_ms ms, clients' CPU $client_ms ms"
        rc=0
      else
        rc=1
      fi
      ;;
  esac
  if [ $rc -ne 0 ]; then
    FAILED=1
    record "$kind" "$i" FAIL 1
    log "$label: FAILED"
    sed 's/^/    /' "$err" >&2
    if ! setup_alive; then
      log "$(server_label "$kind") ($setup) died; its log(s):"
      for f in "$TMP/$kind-$setup-"*.log; do tail -n 20 "$f" >&2 || true; done
      stop_setup
      start_setup "$kind" "$setup"
    fi
  fi
}

log "nats-server: $("$NATS_SERVER" --version 2>&1 | head -n1); pylon-server: $PYLON_SERVER; $(nproc) CPUs;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg); runs=$RUNS scale=$SCALE rows=${#SELECTED[@]}"
# With the kernel's autogroup on, each session shares the CPUs equally whatever its nice, so a
# niced build in another terminal still takes its half (docs/performance.md, "How much to
# trust a ratio").
if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" = 1 ] &&
   awk '{ exit !($1 > 1.5) }' /proc/loadavg; then
  log "warning: the machine is busy and autogroup is on: other sessions' work takes its share" \
      "of the CPUs even when niced (echo 0 > /proc/sys/kernel/sched_autogroup_enabled lets nice work)"
fi
for round in $(seq 1 "$RUNS"); do
  order=("${SERVERS[@]}")
  [ $((round % 2)) -eq 0 ] && order=(pylon nats)
  for setup in "${SETUPS[@]}"; do
    for kind in "${order[@]}"; do
      if [ "$setup" = client ]; then
        log "[round $round/$RUNS] starting $(server_label nats) for $(client_label "$kind") ($setup)"
      else
        log "[round $round/$RUNS] starting $(server_label "$kind") ($setup)"
      fi
      start_setup "$kind" "$setup"
      for i in "${SELECTED[@]}"; do
        IFS='|' read -r name s_setup tags rkind msgs args <<<"${ROWS[$i]}"
        [ "$s_setup" = "$setup" ] || continue
        run_row "$kind" "$i" "$round" "$setup"
      done
      stop_setup
    done
  done
done

# The tables: medians over the successful runs, their spread, and pylon/baseline ratios.
meta=$(for i in "${SELECTED[@]}"; do
  IFS='|' read -r name setup tags rkind msgs args <<<"${ROWS[$i]}"
  printf '%s\t%s\t%s\n' "$i" "$rkind" "$name"
done)
awk -F'\t' -v runs="$RUNS" -v md="$MARKDOWN" -v meta="$meta" -v base="$NATS_LABEL" -v clients="$STORM_CLIENTS" '
  function commas(x,   s, r, neg) {
    s = sprintf("%.0f", x); r = ""; neg = ""
    if (substr(s, 1, 1) == "-") { neg = "-"; s = substr(s, 2) }
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return neg s r
  }
  function median(key,   n, v, i, j, t) {
    n = cnt[key]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) v[i] = val[key, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    lo[key] = v[1]; hi[key] = v[n]
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  # "median ±spread%" (half the range over the rounds, as a % of the median), and "(k/N ok)"
  # when some rounds failed.
  function cell(kind, row, metric, fmt,   key, m, s) {
    key = kind SUBSEP row SUBSEP metric
    m = median(key)
    if (m == "") return fails[kind, row] ? "FAIL" : "-"
    s = (fmt == "commas") ? commas(m) : sprintf(fmt, m)
    if (cnt[key] > 1 && m != 0) s = s sprintf(" ±%.0f%%", 50 * (hi[key] - lo[key]) / (m < 0 ? -m : m))
    if (fails[kind, row]) s = s sprintf(" (%d/%d ok)", runs - fails[kind, row], runs)
    return s
  }
  function ratio(row, metric,   n, p) {
    n = median("nats" SUBSEP row SUBSEP metric); p = median("pylon" SUBSEP row SUBSEP metric)
    return (n != "" && p != "" && n > 0) ? sprintf("%.2f", p / n) : "-"
  }
  function line(cols, n,   i, s) {
    if (md) { s = "|"; for (i = 1; i <= n; i++) s = s " " cols[i] " |"; print s; return }
    s = sprintf("%-32s", cols[1])
    for (i = 2; i <= n; i++) s = s sprintf(" %17s", cols[i])
    print s
  }
  function header(cols, n,   i, s) {
    print ""
    line(cols, n)
    if (md) { s = "|---|"; for (i = 2; i <= n; i++) s = s "---:|"; print s }
  }
  {
    if ($3 == "FAIL") { fails[$1, $2]++; next }
    key = $1 SUBSEP $2 SUBSEP $3; val[key, ++cnt[key]] = $4
  }
  END {
    nr = split(meta, rows, "\n")
    for (k = 1; k <= nr; k++) { split(rows[k], f, "\t"); idx[k] = f[1]; kind[k] = f[2]; name[k] = f[3]; has[f[2]] = 1 }
    if (has["bench"]) {
      split("scenario|" base " msgs/s|pylon msgs/s|ratio|" base " CPU ns/msg|pylon CPU ns/msg|CPU ratio", h, "|")
      header(h, 7)
      for (k = 1; k <= nr; k++) if (kind[k] == "bench") {
        r = idx[k]
        c[1] = name[k]; c[2] = cell("nats", r, "rate", "commas"); c[3] = cell("pylon", r, "rate", "commas")
        c[4] = ratio(r, "rate"); c[5] = cell("nats", r, "cpu", "%.0f"); c[6] = cell("pylon", r, "cpu", "%.0f")
        c[7] = ratio(r, "cpu")
        line(c, 7)
      }
    }
    if (has["client"]) {
      split("client library, publishing to " base "|nats.c msgs/s|pylon client msgs/s|ratio|nats.c CPU ns/msg|pylon client CPU ns/msg|CPU ratio|server CPU ns/msg (nats.c)|(pylon client)", h, "|")
      header(h, 9)
      for (k = 1; k <= nr; k++) if (kind[k] == "client") {
        r = idx[k]
        c[1] = name[k]; c[2] = cell("nats", r, "rate", "commas"); c[3] = cell("pylon", r, "rate", "commas")
        c[4] = ratio(r, "rate"); c[5] = cell("nats", r, "ccpu", "%.0f"); c[6] = cell("pylon", r, "ccpu", "%.0f")
        c[7] = ratio(r, "ccpu"); c[8] = cell("nats", r, "cpu", "%.0f"); c[9] = cell("pylon", r, "cpu", "%.0f")
        line(c, 9)
      }
    }
    if (has["req"]) {
      split("request/reply (round trip, us)|" base " p50|pylon p50|" base " p99|pylon p99|p99 ratio|" base " p99.9|pylon p99.9|" base " req/s|pylon req/s|" base " CPU ns/req|pylon CPU ns/req|CPU ratio", h, "|")
      header(h, 13)
      for (k = 1; k <= nr; k++) if (kind[k] == "req") {
        r = idx[k]
        c[1] = name[k]; c[2] = cell("nats", r, "p50", "%.0f"); c[3] = cell("pylon", r, "p50", "%.0f")
        c[4] = cell("nats", r, "p99", "%.0f"); c[5] = cell("pylon", r, "p99", "%.0f"); c[6] = ratio(r, "p99")
        c[7] = cell("nats", r, "p999", "%.0f"); c[8] = cell("pylon", r, "p999", "%.0f")
        c[9] = cell("nats", r, "rate", "commas"); c[10] = cell("pylon", r, "rate", "commas")
        c[11] = cell("nats", r, "cpu", "%.0f"); c[12] = cell("pylon", r, "cpu", "%.0f"); c[13] = ratio(r, "cpu")
        line(c, 13)
      }
    }
    if (has["storm"]) {
      split("TLS connect storm, " clients " clients|all connected (s)|setup p50 (ms)|setup p99 (ms)|failed attempts|clients gave up|server CPU (ms)|clients CPU (ms)", h, "|")
      header(h, 8)
      for (k = 1; k <= nr; k++) if (kind[k] == "storm") {
        r = idx[k]
        split("nats pylon", ks, " ")
        for (q = 1; q <= 2; q++) {
          c[1] = (ks[q] == "nats") ? base : "pylon-server"
          c[2] = cell(ks[q], r, "all", "%.2f"); c[3] = cell(ks[q], r, "p50", "%.0f"); c[4] = cell(ks[q], r, "p99", "%.0f")
          c[5] = cell(ks[q], r, "attempts", "%.0f"); c[6] = cell(ks[q], r, "gaveup", "%.0f"); c[7] = cell(ks[q], r, "cpu_ms", "%.0f")
          c[8] = cell(ks[q], r, "client_ms", "%.0f")
          line(c, 8)
        }
        c[1] = "ratio pylon/" base; c[2] = ratio(r, "all"); c[3] = ratio(r, "p50"); c[4] = ratio(r, "p99")
        c[5] = "-"; c[6] = "-"; c[7] = ratio(r, "cpu_ms"); c[8] = "-"
        line(c, 8)
      }
    }
  }' "$RESULTS"

if [ $FAILED -ne 0 ]; then
  log "some runs failed (see above)"
  exit 1
fi
