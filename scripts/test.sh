#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors, runs the whole
# CTest suite, then the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer,
# the engine, transfer and daemon tests under ThreadSanitizer, and every libFuzzer target
# briefly over its seed corpus (docs/ARCHITECTURE.md, "Sanitizers and fuzzing").
# Usage: scripts/test.sh [--no-sanitizers]     (skips the ASan/UBSan, TSan and fuzz stages)
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
    BGCOPY_TEST_TIMEOUT_MULTIPLIER=3 BGCOPY_SOAK_SECONDS=15 BGCOPY_SOAK_KILLS=30 \
    ctest --preset asan-ubsan -j "$jobs" --timeout 900 --no-tests=error

  # ThreadSanitizer: only the executables whose code runs on more than one thread (the curl
  # thread, the engine host, the checkpoint syncer, the service in-process, a real bgcopyd's API
  # threads under api_test), built alone to keep the stage short; each test carries its
  # executable's name as a label. TSAN_OPTIONS reaches the bgcopyd that api_test starts too.
  # Left out: IdleAndSlowClientsAreCutOffAndConnectionsAreCapped, which needs the health-check
  # connection of Daemon::start() to be reaped before its third held connection is accepted;
  # under TSan's slowdown it can lose to the connection cap (a timing assumption of the
  # test, not a race: the ci and asan-ubsan stages run it).
  tsan_tests=(engine_test transfer_test transfer_http_test daemon_test engine_integration_test
    api_test)
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs" --target "${tsan_tests[@]}"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" BGCOPY_TEST_TIMEOUT_MULTIPLIER=5 \
    ctest --preset tsan -j "$jobs" --timeout 900 --no-tests=error \
    -L "^($(IFS='|' && echo "${tsan_tests[*]}"))\$" \
    -E '^ApiTest\.IdleAndSlowClientsAreCutOffAndConnectionsAreCapped$'

  fuzz/run.sh "${BGCOPY_FUZZ_SECONDS:-10}"
fi
