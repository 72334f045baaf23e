#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build with
# AddressSanitizer + UndefinedBehaviorSanitizer and -Werror, run ctest
# (unit, integration, fuzz-replay), build the Release programs with -Werror
# too (gcc warns of some things, a value maybe used uninitialized, only
# when it optimizes), then fuzz every target briefly with libFuzzer under
# clang.  Extra arguments go to the main ctest run.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)

./deploy/install-deps.sh

cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DBM_SANITIZE=ON -DBM_WERROR=ON >/dev/null
cmake --build build-test -j"$JOBS"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-test && ctest --output-on-failure -j"$JOBS" "$@")

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBM_TESTS=OFF -DBM_WERROR=ON >/dev/null
cmake --build build-release -j"$JOBS" >/dev/null

if [ "${BM_SKIP_FUZZ:-0}" != 1 ]; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBM_SANITIZE=ON \
    -DBM_FUZZ=ON -DBM_WERROR=ON >/dev/null
  cmake --build build-fuzz -j"$JOBS"
  (cd build-fuzz && ctest --output-on-failure -L fuzz)
fi
echo "tests/run.sh: all passed"
