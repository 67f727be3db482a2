#!/usr/bin/env bash
# Side-by-side throughput of nats-server and pylon-server (what `make bench` runs).
#
# Starts each server on a free loopback port, one at a time (so they never compete
# for the CPUs), runs the same `pylon bench` scenarios against it, stops it, and
# repeats the round --runs times, alternating the servers so that drift in machine
# load hits both alike. Prints the median msgs/s of each scenario and the ratio
# pylon/nats, and the server process's own CPU time per message (utime+stime from
# /proc/PID/stat over the scenario, divided by the messages published) with its ratio.
# Exits 1 if any run failed. See docs/performance.md.
#
# Usage: scripts/bench.sh [--runs N] [--scale X] [--timeout SECS] [--markdown]
#   --runs N      rounds per server, median taken (default 3; env BENCH_RUNS)
#   --scale X     multiply every scenario's message count (default 1; env BENCH_SCALE)
#   --timeout S   limit of one `pylon bench` run in seconds (default 60; env BENCH_TIMEOUT)
#   --markdown    print the result table as Markdown (for docs/performance.md)
# Env: BUILD_DIR (default build/), PYLON, PYLON_SERVER, NATS_SERVER: the binaries.
#      NATS_LABEL: the baseline's name in the table (e.g. "before" when NATS_SERVER is an
#      older pylon-server, to measure a change side by side).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PYLON=${PYLON:-$BUILD_DIR/pylon}
PYLON_SERVER=${PYLON_SERVER:-$BUILD_DIR/pylon-server}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server 2>/dev/null || echo /usr/sbin/nats-server)}
RUNS=${BENCH_RUNS:-3}
SCALE=${BENCH_SCALE:-1}
TIMEOUT=${BENCH_TIMEOUT:-60}
MARKDOWN=0

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --scale) SCALE=$2; shift 2 ;;
    --scale=*) SCALE=${1#*=}; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    --markdown) MARKDOWN=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "bench.sh: $*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || die "--scale must be a positive number"
for bin in "$PYLON" "$PYLON_SERVER" "$NATS_SERVER"; do
  [ -x "$bin" ] || die "$bin not found or not executable (build first: cmake -S . -B build -G Ninja && ninja -C build pylon pylon-server)"
done

# Scenarios: name | publishers | subscribers | messages (at scale 1) | payload bytes.
# Counts are sized for a few seconds each against nats-server on a 2-core machine.
SCENARIOS=(
  "pub 16 B|1|0|20000000|16"
  "pub 1 KiB|1|0|3000000|1024"
  "pub->sub 16 B|1|1|5000000|16"
  "pub->sub 1 KiB|1|1|1000000|1024"
  "fan-out 1->4 16 B|1|4|2000000|16"
)
SERVERS=(nats pylon)
NATS_LABEL=${NATS_LABEL:-nats-server}
server_label() { case "$1" in nats) echo "$NATS_LABEL" ;; pylon) echo pylon-server ;; esac; }
CLK_TCK=$(getconf CLK_TCK)
# utime+stime of a process in clock ticks (fields 14 and 15, counted after the ")" that ends
# the command name, which may itself hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pylon-bench.XXXXXX")
SERVER_PID=
SERVER_PORT=
CLIENT_PID=

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid=$SERVER_PID
  SERVER_PID=
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      log "server $pid ignored SIGTERM for 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.05
  done
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  if [ -n "$CLIENT_PID" ]; then
    kill -TERM "$CLIENT_PID" 2>/dev/null || true
    wait "$CLIENT_PID" 2>/dev/null || true
  fi
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local port i
  for i in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if command -v ss >/dev/null 2>&1; then
      [ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] || continue
    fi
    port_open "$port" && continue
    echo "$port"
    return 0
  done
  die "found no free port"
}

# start_server nats|pylon: sets SERVER_PID and SERVER_PORT once the port accepts.
start_server() {
  local kind=$1 attempt port pid deadline
  local logf="$TMP/$kind-server.log"
  for attempt in 1 2 3; do
    port=$(pick_port)
    case "$kind" in
      nats) "$NATS_SERVER" -a 127.0.0.1 -p "$port" >"$logf" 2>&1 & ;;
      pylon) "$PYLON_SERVER" -a 127.0.0.1 -p "$port" >"$logf" 2>&1 & ;;
    esac
    pid=$!
    deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
      if ! kill -0 "$pid" 2>/dev/null; then
        break  # died (perhaps the port was taken meanwhile): try another port
      fi
      if port_open "$port"; then
        SERVER_PID=$pid
        SERVER_PORT=$port
        return 0
      fi
      sleep 0.02
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    log "$(server_label "$kind") did not come up on port $port (attempt $attempt); its log:"
    tail -n 20 "$logf" >&2 || true
  done
  die "cannot start $(server_label "$kind")"
}

# Results: one line "kind<TAB>scenario-index<TAB>msgs/s-or-FAIL" per run.
RESULTS="$TMP/results.tsv"
: >"$RESULTS"
FAILED=0

log "nats-server: $("$NATS_SERVER" --version 2>&1 | head -n1); pylon-server: $PYLON_SERVER; $(nproc) CPUs; runs=$RUNS scale=$SCALE"
for round in $(seq 1 "$RUNS"); do
  for kind in "${SERVERS[@]}"; do
    start_server "$kind"
    for i in "${!SCENARIOS[@]}"; do
      IFS='|' read -r name pubs subs msgs size <<<"${SCENARIOS[$i]}"
      msgs=$(awk -v m="$msgs" -v s="$SCALE" 'BEGIN { n = int(m * s); if (n < 1) n = 1; print n }')
      out="$TMP/run.json"
      err="$TMP/run.err"
      rc=0
      # In the background so that a signal to this script is handled at once (bash
      # runs traps only between foreground commands).
      "$PYLON" bench bench.subject --server "nats://127.0.0.1:$SERVER_PORT" --pub "$pubs" --sub "$subs" \
        --msgs "$msgs" --size "$size" --timeout "$TIMEOUT" --json --no-progress >"$out" 2>"$err" &
      CLIENT_PID=$!
      ticks0=$(cpu_ticks "$SERVER_PID" 2>/dev/null || echo 0)
      wait "$CLIENT_PID" || rc=$?
      CLIENT_PID=
      ticks1=$(cpu_ticks "$SERVER_PID" 2>/dev/null || echo 0)
      cpu_ns=$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$CLK_TCK" -v m="$msgs" 'BEGIN { printf "%.1f", (b - a) * 1e9 / hz / m }')
      rate=$(sed -n 's/.*"overall":{[^}]*"msgs_per_sec":\([0-9.]*\).*/\1/p' "$out")
      if [ $rc -ne 0 ] || [ -z "$rate" ] || ! grep -q '"complete":true' "$out"; then
        FAILED=1
        printf '%s\t%s\tFAIL\n' "$kind" "$i" >>"$RESULTS"
        log "[round $round/$RUNS] $(server_label "$kind") | $name: FAILED (exit $rc)"
        sed 's/^/    /' "$err" >&2
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
          log "$(server_label "$kind") died; its log:"
          tail -n 20 "$TMP/$kind-server.log" >&2 || true
          SERVER_PID=
          start_server "$kind"
        fi
      else
        printf '%s\t%s\t%s\t%s\n' "$kind" "$i" "$rate" "$cpu_ns" >>"$RESULTS"
        log "[round $round/$RUNS] $(server_label "$kind") | $name: $(printf '%.0f' "$rate") msgs/s, server CPU $cpu_ns ns/msg"
      fi
    done
    stop_server
  done
done

# Median per (server, scenario) over the successful runs; the table.
names=$(printf '%s\n' "${SCENARIOS[@]}" | cut -d'|' -f1)
awk -F'\t' -v runs="$RUNS" -v md="$MARKDOWN" -v names="$names" -v base="$NATS_LABEL" '
  function commas(x,   s, r) {
    s = sprintf("%.0f", x); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return s r
  }
  function median(key,   n, v, i, j, t) {
    n = cnt[key]
    if (n == 0) return -1
    for (i = 1; i <= n; i++) v[i] = val[key, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  function cell(key,   m) {
    m = median(key)
    if (m < 0) return "FAIL"
    return commas(m) (cnt[key] < runs ? sprintf(" (%d/%d ok)", cnt[key], runs) : "")
  }
  function cpu(kind, i,   m) { m = median("cpu" SUBSEP kind SUBSEP i); return m < 0 ? "-" : sprintf("%.0f", m) }
  {
    if ($3 != "FAIL") {
      key = $1 SUBSEP $2; val[key, ++cnt[key]] = $3
      key = "cpu" SUBSEP $1 SUBSEP $2; val[key, ++cnt[key]] = $4
    }
  }
  END {
    ns = split(names, nm, "\n")
    if (md) {
      printf "| scenario | %s msgs/s | pylon-server msgs/s | ratio | %s CPU ns/msg | pylon CPU ns/msg | CPU ratio |\n", base, base
      print "|---|---:|---:|---:|---:|---:|---:|"
    } else {
      printf "%-18s %20s %20s %6s %12s %12s %6s\n", "scenario", base " msgs/s", "pylon msgs/s", "ratio",
             base " ns", "pylon ns", "ratio"
    }
    for (i = 1; i <= ns; i++) {
      n = median("nats" SUBSEP (i - 1)); p = median("pylon" SUBSEP (i - 1))
      ratio = (n > 0 && p >= 0) ? sprintf("%.2f", p / n) : "-"
      nc = median("cpu" SUBSEP "nats" SUBSEP (i - 1)); pc = median("cpu" SUBSEP "pylon" SUBSEP (i - 1))
      cratio = (nc > 0 && pc >= 0) ? sprintf("%.2f", pc / nc) : "-"
      if (md) printf "| %s | %s | %s | %s | %s | %s | %s |\n", nm[i], cell("nats" SUBSEP (i - 1)),
                     cell("pylon" SUBSEP (i - 1)), ratio, cpu("nats", i - 1), cpu("pylon", i - 1), cratio
      else printf "%-18s %20s %20s %6s %12s %12s %6s\n", nm[i], cell("nats" SUBSEP (i - 1)),
                  cell("pylon" SUBSEP (i - 1)), ratio, cpu("nats", i - 1), cpu("pylon", i - 1), cratio
    }
  }' "$RESULTS"

if [ $FAILED -ne 0 ]; then
  log "some runs failed (see above)"
  exit 1
fi
