#!/usr/bin/env bash
# `make fuzz`: every libFuzzer target of fuzz/ for FUZZ_SECONDS (default 60) each under
# ASan+UBSan, then the JSON differential check against Go's encoding/json, then the
# network-level fuzzer against an ASan+UBSan pylon-server. Fails on any crash, sanitizer
# report, difference or lost canary message.
#   BUILD_FUZZ (default build-fuzz): the clang build of the targets; new corpus entries go to
#     $BUILD_FUZZ/corpus/<target>/ (never into the committed fuzz/corpus/), crashes to
#     $BUILD_FUZZ/crashes/.
#   BUILD_ASAN (default build-asan): the server for the network fuzzer, configured as
#     scripts/sanitize.sh configures it (so `make sanitize` reuses the build).
#   FUZZ_TARGETS: a subset of targets (default: all); FUZZ_NET=0 skips the network fuzzer.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
bf=${BUILD_FUZZ:-build-fuzz}
ba=${BUILD_ASAN:-build-asan}

scripts/fuzz-build.sh "$bf"
rc=$?
if [ "$rc" -ne 0 ]; then exit "$rc"; fi

targets=${FUZZ_TARGETS:-$(for f in fuzz/*_fuzz.cc; do basename "$f" _fuzz.cc; done)}
mkdir -p "$bf/crashes"
status=0
summary=()
for t in $targets; do
  mkdir -p "$bf/corpus/$t"
  dict=$(scripts/fuzz-dict.sh "$t")
  log=$bf/$t.log
  echo "== fuzz $t: ${seconds}s (corpus fuzz/corpus/$t + $bf/corpus/$t${dict:+, dictionary $dict})"
  # libFuzzer writes new inputs into the FIRST corpus directory: the scratch one.
  "$bf/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$bf/crashes/$t-" ${dict:+-dict="$dict"} "$bf/corpus/$t" "fuzz/corpus/$t" 2>&1 |
    tee "$log" | grep -a --line-buffered -E 'INITED|pulse|DONE|ERROR|SUMMARY|Test unit written'
  trc=${PIPESTATUS[0]}
  execs=$(grep -a -o 'stat::number_of_executed_units:[[:space:]]*[0-9]*' "$log" | grep -o '[0-9]*$')
  speed=$(grep -a -o 'stat::average_exec_per_sec:[[:space:]]*[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -a -o 'DONE *cov: [0-9]*' "$log" | grep -o '[0-9]*$')
  if [ "$trc" -eq 0 ]; then res=ok; else res="FAILED (exit $trc, see $log and $bf/crashes/)"; status=1; fi
  summary+=("$(printf '%-14s %12s execs %8s exec/s  cov %6s  %s' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$res")")
done

echo "== JSON differential: Pylon's CONNECT/INFO decoding against go1.19 encoding/json"
if ! FUZZ_SECONDS=$seconds fuzz/json_diff/run.sh "$bf"; then
  status=1
  summary+=("json_diff       FAILED")
else
  summary+=("json_diff       ok")
fi

if [ "${FUZZ_NET:-1}" != 0 ]; then
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  echo "== network fuzzer: building an ASan+UBSan pylon-server in $ba"
  if [ ! -f "$ba/build.ninja" ]; then
    cmake -S . -B "$ba" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null || exit 1
  fi
  cmake --build "$ba" -j "${JOBS:-$(nproc)}" --target pylon-server || exit 1
  if fuzz/net_fuzz.py --server "$ba/pylon-server" --seconds "$seconds" --keep "$bf/net"; then
    summary+=("net_fuzz        ok")
  else
    summary+=("net_fuzz        FAILED (logs in $bf/net)")
    status=1
  fi
fi

echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $status
