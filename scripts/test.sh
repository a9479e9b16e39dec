#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors, runs the whole
# CTest suite, then the unit suites again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh [--no-sanitizers]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=1
[ "${1:-}" = "--no-sanitizers" ] && sanitizers=0

scripts/setup.sh
scripts/check-format.sh
jobs=$(nproc)

cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs" --timeout 900 --no-tests=error

if [ "$sanitizers" = 1 ]; then
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    BGCOPY_TEST_TIMEOUT_MULTIPLIER=3 \
    ctest --preset asan-ubsan -j "$jobs" --timeout 900 --no-tests=error
fi
