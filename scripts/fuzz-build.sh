#!/usr/bin/env bash
# Configures and builds the libFuzzer targets of fuzz/ with clang (ASan+UBSan) into DIR
# (default build-fuzz). Exit 77 (a skip for ctest) when clang or its libFuzzer runtime is
# missing: `make deps` installs them (clang, libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
cxx=${FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}
if [ -z "$cxx" ]; then
  echo "fuzz: clang++ not found; install clang and libclang-rt-14-dev (make deps) to build fuzz/"
  exit 77
fi
if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    "$cxx" -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "fuzz: $cxx cannot link -fsanitize=fuzzer; install libclang-rt-14-dev (make deps)"
  exit 77
fi
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" >/dev/null
fi
cmake --build "$dir" -j "${JOBS:-$(nproc)}"
