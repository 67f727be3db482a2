#!/usr/bin/env bash
# A node joining a cluster that holds many subscriptions (issue 14 §4): how long until the
# newcomer knows all of them, and what the sync costs a publisher on a sending node.
#
# Per round and per server (Pylon and nats-server alternate, nats-server first in odd rounds,
# so both see the same machine load):
#   1. nodes A and B form a cluster (B routes to A); bench/scale_clients fills it with --subs
#      subscriptions, half on A and half on B (--clients connections in all, split alike), and
#      holds them; A's /subsz then counts every one (its own and B's, through the route);
#   2. baseline: one publisher (`pylon bench --pub 1`, 16 B, --msgs) on A, nothing else;
#   3. the join: the same publisher again, and node C (routing to A) started at its start;
#      C learns A's half from A and B's half from B (it dials B on A's gossip). Measured: the
#      time from C's start to its /subsz num_subscriptions reaching A's count (polled every
#      20 ms), and the publisher's msgs/s during the join beside the baseline's.
# On a loaded machine the join's wall time is mostly waiting for a CPU, so the CPU time the
# work took is reported too (utime+stime from /proc/PID/stat): C's, from its start to the
# moment its count is complete (the receiving side: parsing RS+, filling its index), and
# B's over the same interval (the sending side: B has no publisher, only its half to send),
# and C's resident memory then (VmRSS; the peak, VmHWM, is the same here, as C only grows).
# Reports per server the median over the rounds and the spread (half the range, as a
# percentage of the median), and the load average at each run. Progress on stderr, the
# table on stdout. Every process this script starts is stopped by its PID.
#
# Usage: scripts/route-join.sh [--rounds N] [--subs N] [--clients N] [--msgs N] [--markdown]
#   --rounds N   rounds (default 3)
#   --subs N     subscriptions in the cluster (default 1000000)
#   --clients N  client connections holding them (default 1000; the machine's descriptor
#                limit is 20,000 per process)
#   --msgs N     messages of each publisher run (default 5000000)
#   --timeout S  limit of one fill, one join and one publisher run (default 120)
# Env: BUILD_DIR (default build/), PYLON_SERVER, NATS_SERVER, PYLON, SCALE_CLIENTS, and
# PYLON_ARGS (extra flags for every Pylon node, e.g. "--event_loops 1"), SERVERS (default
# "nats pylon"; "pylon" alone, e.g. to compare two Pylon builds round by round), C_ENV
# (environment for node C only, e.g. C_ENV="GLIBC_TUNABLES=glibc.malloc.arena_max=1").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PYLON_SERVER=${PYLON_SERVER:-$BUILD_DIR/pylon-server}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server 2>/dev/null || echo /usr/sbin/nats-server)}
PYLON=${PYLON:-$BUILD_DIR/pylon}
SCALE_CLIENTS=${SCALE_CLIENTS:-$BUILD_DIR/bench/scale_clients}
PYLON_ARGS=${PYLON_ARGS:-}
ROUNDS=3 SUBS=1000000 CLIENTS=1000 MSGS=5000000 TIMEOUT=120 MARKDOWN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --subs) SUBS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --msgs) MSGS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --markdown) MARKDOWN=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "route-join.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for bin in "$PYLON_SERVER" "$NATS_SERVER" "$PYLON" "$SCALE_CLIENTS"; do
  [ -x "$bin" ] || { echo "route-join.sh: $bin not found (ninja -C build pylon-server pylon scale_clients)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pylon-join.XXXXXX")
PIDS=()
stop_pids() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() { stop_pids; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "route-join.sh: $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
source "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"  # port_open, pick_port
# num_subscriptions of a node's /subsz (empty when it does not answer).
subs_of() {
  local body
  body=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /subsz HTTP/1.0\r\n\r\n' >&3 && cat <&3) 2>/dev/null || true)
  sed -n 's/.*"num_subscriptions": *\([0-9]*\).*/\1/p' <<<"$body" | head -n1
}
routes_of() {
  local body
  body=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /varz HTTP/1.0\r\n\r\n' >&3 && cat <&3) 2>/dev/null || true)
  sed -n 's/.*"routes": *\([0-9]*\).*/\1/p' <<<"$body" | head -n1
}
now_ms() { date +%s%3N; }
CLK_TCK=$(getconf CLK_TCK)
# CPU time (ms) a process has used: utime + stime, fields 14 and 15 of /proc/PID/stat.
# Resident memory (kB) of a process: VmRSS of /proc/PID/status.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ms() { awk -v t="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%d", ($12 + $13) * 1000 / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# wait_until SECONDS COMMAND...: polls every 20 ms.
wait_until() {
  local limit=$(($(now_ms) + $1 * 1000)); shift
  until "$@"; do
    [ "$(now_ms)" -lt "$limit" ] || return 1
    sleep 0.02
  done
}

# start_node KIND NAME CLIENT HTTP ROUTE [SEED_ROUTE]: echoes the PID.
start_node() {
  local kind=$1 name=$2 cport=$3 hport=$4 rport=$5 seed=${6:-} bin args envs=()
  bin=$([ "$kind" = nats ] && echo "$NATS_SERVER" || echo "$PYLON_SERVER")
  args=(-a 127.0.0.1 -p "$cport" -m "$hport" -n "$name" --cluster_name join --cluster "nats://127.0.0.1:$rport")
  [ -n "$seed" ] && args+=(--routes "nats://127.0.0.1:$seed")
  # shellcheck disable=SC2086
  [ "$kind" = pylon ] && args+=($PYLON_ARGS)
  # shellcheck disable=SC2206
  [ "$name" = C ] && [ -n "${C_ENV:-}" ] && envs=(${C_ENV})
  env "${envs[@]}" "$bin" "${args[@]}" >"$TMP/$kind-$name.log" 2>&1 &
  echo $!
}
has_subs() { local n; n=$(subs_of "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
has_routes() { local n; n=$(routes_of "$1"); [ -n "$n" ] && [ "$n" -ge "$2" ]; }
file_nonempty() { [ -s "$1" ]; }

# bench_pub PORT OUT: a pub-only run on A; echoes nothing, writes the JSON report to OUT.
bench_pub() {
  "$PYLON" bench join.pub --server "nats://127.0.0.1:$1" --pub 1 --msgs "$MSGS" --size 16 --json --no-progress \
    --timeout "$TIMEOUT" >"$2" 2>"$2.err"
}
rate_of() { sed -n 's/.*"overall"[^}]*"msgs_per_sec": *\([0-9.]*\).*/\1/p' "$1" | head -n1; }

FAILED=0
declare -A R
# run KIND ROUND
run() {
  local kind=$1 round=$2
  local ca ha ra cb hb rb cc hc rc pa pb pc
  ca=$(pick_port) ha=$(pick_port) ra=$(pick_port) cb=$(pick_port) hb=$(pick_port) rb=$(pick_port)
  cc=$(pick_port) hc=$(pick_port) rc=$(pick_port)
  pa=$(start_node "$kind" A "$ca" "$ha" "$ra"); PIDS+=("$pa")
  pb=$(start_node "$kind" B "$cb" "$hb" "$rb" "$ra"); PIDS+=("$pb")
  if ! wait_until 30 has_routes "$ha" 1 || ! wait_until 30 has_routes "$hb" 1; then
    log "$kind: A and B did not form a cluster"; FAILED=1; stop_pids; return
  fi
  local half=$((SUBS / 2)) chalf=$((CLIENTS / 2)) base
  base=$(subs_of "$ha")
  log "round $round, $kind: filling A and B with $SUBS subscriptions over $CLIENTS clients (load $(loadavg))"
  "$SCALE_CLIENTS" --port "$ca" --server-pid "$pa" --clients "$chalf" --subs "$half" --queue-pct 0 --json \
    --no-progress --settle 0 --timeout "$TIMEOUT" --hold 100000 >"$TMP/fill-a.json" 2>/dev/null &
  PIDS+=($!)
  "$SCALE_CLIENTS" --port "$cb" --server-pid "$pb" --clients "$((CLIENTS - chalf))" --subs "$((SUBS - half))" \
    --queue-pct 0 --json --no-progress --settle 0 --timeout "$TIMEOUT" --hold 100000 >"$TMP/fill-b.json" 2>/dev/null &
  PIDS+=($!)
  if ! wait_until "$TIMEOUT" has_subs "$ha" $((base + SUBS)) || ! wait_until "$TIMEOUT" has_subs "$hb" $((base + SUBS)); then
    log "$kind: the cluster did not reach $SUBS subscriptions (A: $(subs_of "$ha"), B: $(subs_of "$hb"))"
    FAILED=1; stop_pids; return
  fi
  local target; target=$(subs_of "$ha")
  log "round $round, $kind: A counts $target; baseline publisher on A (load $(loadavg))"
  bench_pub "$ca" "$TMP/pub-base.json" || { log "$kind: baseline publisher failed: $(cat "$TMP/pub-base.json.err")"; FAILED=1; }
  R[$kind,$round,base]=$(rate_of "$TMP/pub-base.json")

  log "round $round, $kind: node C joins while the publisher runs (load $(loadavg))"
  bench_pub "$ca" "$TMP/pub-join.json" &
  local bench_pid=$!
  PIDS+=("$bench_pid")
  sleep 0.2  # the publisher is connected and publishing before C starts
  local t0 t1 b0
  b0=$(cpu_ms "$pb")
  t0=$(now_ms)
  pc=$(start_node "$kind" C "$cc" "$hc" "$rc" "$ra"); PIDS+=("$pc")
  if wait_until "$TIMEOUT" has_subs "$hc" "$target"; then
    t1=$(now_ms)
    R[$kind,$round,join]=$((t1 - t0))
    R[$kind,$round,cpu_c]=$(cpu_ms "$pc")
    R[$kind,$round,cpu_b]=$(($(cpu_ms "$pb") - b0))
    R[$kind,$round,rss_c]=$(($(rss_kb "$pc") / 1024))
  else
    log "$kind: C did not learn every subscription within ${TIMEOUT}s (it has $(subs_of "$hc") of $target)"
    FAILED=1
  fi
  wait "$bench_pid" || { log "$kind: publisher during the join failed"; FAILED=1; }
  R[$kind,$round,during]=$(rate_of "$TMP/pub-join.json")
  R[$kind,$round,load]=$(loadavg)
  log "round $round, $kind: join ${R[$kind,$round,join]:-FAIL} ms (CPU: C ${R[$kind,$round,cpu_c]:-?} ms, B ${R[$kind,$round,cpu_b]:-?} ms; C's RSS ${R[$kind,$round,rss_c]:-?} MiB); publisher ${R[$kind,$round,base]:-?} msgs/s alone," \
    "${R[$kind,$round,during]:-?} msgs/s during the join (load ${R[$kind,$round,load]})"
  stop_pids
}

log "$(nproc) CPUs; nats-server $("$NATS_SERVER" --version 2>&1 | head -n1); load average $(loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="nats pylon"; else order="pylon nats"; fi
  order=$(for k in $order; do case " ${SERVERS:-nats pylon} " in *" $k "*) echo "$k" ;; esac; done)
  for kind in $order; do run "$kind" "$round"; done
done

# median_spread KIND FIELD: "median ±spread%" over the rounds that produced a value.
median_spread() {
  local vals=() r
  for r in $(seq 1 "$ROUNDS"); do [ -n "${R[$1,$r,$2]:-}" ] && vals+=("${R[$1,$r,$2]}"); done
  [ ${#vals[@]} -gt 0 ] || { echo "FAIL"; return; }
  printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    s = (m > 0) ? (v[NR] - v[1]) / 2 / m * 100 : 0
    printf "%.0f ±%.0f%%", m, s }'
}
median() { median_spread "$1" "$2" | cut -d' ' -f1; }
ratio() { awk -v n="$1" -v p="$2" 'BEGIN { if (n > 0 && p > 0) printf "%.2f", p / n; else print "-" }'; }
row() {
  if [ $MARKDOWN -eq 1 ]; then printf '| %s | %s | %s | %s |\n' "$@"; else printf '%-52s %20s %20s %8s\n' "$@"; fi
}
echo
row "join with $SUBS subscriptions, $ROUNDS rounds" nats-server pylon-server ratio
[ $MARKDOWN -eq 1 ] && echo "|---|---:|---:|---:|"
row "time until C's /subsz is complete (ms)" "$(median_spread nats join)" "$(median_spread pylon join)" \
  "$(ratio "$(median nats join)" "$(median pylon join)")"
row "C's CPU until complete: receiving (ms)" "$(median_spread nats cpu_c)" "$(median_spread pylon cpu_c)" \
  "$(ratio "$(median nats cpu_c)" "$(median pylon cpu_c)")"
row "B's CPU meanwhile: sending half (ms)" "$(median_spread nats cpu_b)" "$(median_spread pylon cpu_b)" \
  "$(ratio "$(median nats cpu_b)" "$(median pylon cpu_b)")"
row "C's RSS when complete (MiB)" "$(median_spread nats rss_c)" "$(median_spread pylon rss_c)" \
  "$(ratio "$(median nats rss_c)" "$(median pylon rss_c)")"
row "publisher on A alone (msgs/s)" "$(median_spread nats base)" "$(median_spread pylon base)" \
  "$(ratio "$(median nats base)" "$(median pylon base)")"
row "publisher on A during the join (msgs/s)" "$(median_spread nats during)" "$(median_spread pylon during)" \
  "$(ratio "$(median nats during)" "$(median pylon during)")"
for kind in nats pylon; do
  for r in $(seq 1 "$ROUNDS"); do
    echo "  $kind round $r: join ${R[$kind,$r,join]:-FAIL} ms (CPU C ${R[$kind,$r,cpu_c]:-?}, B ${R[$kind,$r,cpu_b]:-?} ms; C's RSS ${R[$kind,$r,rss_c]:-?} MiB), publisher ${R[$kind,$r,base]:-?} -> ${R[$kind,$r,during]:-?} msgs/s, load ${R[$kind,$r,load]:-?}"
  done
done
exit $FAILED
