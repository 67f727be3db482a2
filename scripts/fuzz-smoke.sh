#!/usr/bin/env bash
# One fuzz target's smoke test (ctest fuzz.<target>, after fuzz.build): the whole committed
# corpus fuzz/corpus/<target>/ (seeds and every past crash), then at most FUZZ_SMOKE_SECONDS
# (default 10) of fuzzing. New inputs go to a scratch directory, never into the corpus.
#   scripts/fuzz-smoke.sh <fuzz build dir> <target>
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1
target=$2
bin=$dir/${target}_fuzz
if [ ! -x "$bin" ]; then
  if ! command -v clang++ >/dev/null 2>&1 && ! command -v clang++-14 >/dev/null 2>&1; then
    echo "fuzz: clang++ not found; fuzz.$target skipped (install clang and libclang-rt-14-dev: make deps)"
    exit 77
  fi
  echo "fuzz: $bin missing (did fuzz.build fail?)"
  exit 1
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
args=(-max_total_time="${FUZZ_SMOKE_SECONDS:-10}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$scratch/")
dict=$(scripts/fuzz-dict.sh "$target")
[ -n "$dict" ] && args+=(-dict="$dict")
mkdir -p "$scratch/new"
echo "fuzz.$target: $(find "fuzz/corpus/$target" -type f | wc -l) corpus inputs, then ${FUZZ_SMOKE_SECONDS:-10}s of fuzzing"
rc=0
"$bin" "${args[@]}" "$scratch/new" "fuzz/corpus/$target" >"$scratch/log" 2>&1 || rc=$?
grep -E 'INITED|DONE|ERROR|SUMMARY|stat::number_of_executed_units|Test unit written' "$scratch/log" || true
if [ "$rc" -ne 0 ]; then
  echo "fuzz.$target FAILED (exit $rc); the log:"
  tail -80 "$scratch/log"
  for f in "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* "$scratch"/oom-*; do
    [ -f "$f" ] && echo "reproducer (base64): $(base64 -w0 "$f")"
  done
  exit 1
fi
