#!/usr/bin/env bash
# Every test again, on a build with a sanitizer: `make sanitize` (ASan+UBSan, then TSan) or
# scripts/sanitize.sh asan|tsan. Not part of `make test`: each build takes about as long as
# the normal one. The servers, the clients and the tests are all instrumented; every
# process writes its reports to one directory (the sanitizer's log_path), and the run fails
# if any report was written, even when every test passed.
#   Builds in build-asan/ and build-tsan/ (BUILD_ASAN, BUILD_TSAN override).
#   scripts/sanitize.sh [asan|tsan]... [-- CTEST ARGS]: what follows `--` goes to ctest, e.g.
#   scripts/sanitize.sh tsan -- -R 'Stress|Tls' to run only those tests.
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=()
ctest_args=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then
    shift
    ctest_args=("$@")
    break
  fi
  kinds+=("$1")
  shift
done
[ ${#kinds[@]} -eq 0 ] && kinds=(asan tsan)
status=0
for kind in "${kinds[@]}"; do
  case $kind in
    asan)
      dir=${BUILD_ASAN:-build-asan}
      flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
      ;;
    tsan)
      dir=${BUILD_TSAN:-build-tsan}
      # -Wno-tsan: Asio's fenced blocks use atomic_thread_fence, which TSan does not model
      # (GCC warns on each); its scheduler's mutexes order the handlers anyway.
      flags="-fsanitize=thread -Wno-tsan"
      ;;
    *)
      echo "usage: scripts/sanitize.sh [asan|tsan]... [-- CTEST ARGS]" >&2
      exit 2
      ;;
  esac
  echo "== $kind: building in $dir"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYLON_DEBUG_CHECKS=ON \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
  reports=$(cd "$dir" && pwd)/sanitizer-reports
  rm -rf "$reports" && mkdir -p "$reports"
  echo "== $kind: every test${ctest_args[*]:+ (ctest ${ctest_args[*]})}, reports into $reports"
  rc=0
  ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1" \
    UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1" \
    TSAN_OPTIONS="log_path=$reports/tsan:second_deadlock_stack=1:suppressions=$(pwd)/scripts/tsan.supp" \
    ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 600 "${ctest_args[@]}" || rc=$?
  n=$(find "$reports" -type f | wc -l)
  if [ "$n" -gt 0 ]; then
    echo "== $kind: $n sanitizer report(s):"
    for f in "$reports"/*; do
      echo "--- $f"
      head -60 "$f"
    done
    status=1
  fi
  if [ "$rc" -ne 0 ]; then status=1; fi
  echo "== $kind: tests exit $rc, $n sanitizer report(s)"
done
exit $status
