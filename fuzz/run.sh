#!/usr/bin/env bash
# Builds the `fuzz` preset and runs every libFuzzer target (or the ones named) for SECONDS each
# (default 10), over a temporary copy of its seed corpus in fuzz/corpus/<name>/ so that a run
# never grows the checked-in corpus. Targets run side by side, one per core. Fails if any target
# finds a crash, a sanitizer report, a leak, a timeout or a violated property; the input is kept
# in build/fuzz/artifacts/<name>/ with the command that reproduces it.
# Usage: fuzz/run.sh [SECONDS] [NAME...]      e.g. fuzz/run.sh 300 http_headers config
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
[ $# -gt 0 ] && shift
all=(http_headers config api_request json_body ranges cli_args)
targets=("${@:-${all[@]}}")
jobs=$(nproc)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"

work=$(mktemp -d "${TMPDIR:-/tmp}/bgcopy-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=build/fuzz/artifacts

run_one() {
  local name=$1
  local dir="$work/$name"
  mkdir -p "$dir/corpus" "$dir/crash"
  cp fuzz/corpus/"$name"/* "$dir/corpus/"
  local dict=()
  [ -f fuzz/dict/"$name".dict ] && dict=(-dict=fuzz/dict/"$name".dict)
  # -timeout: one input taking more than 10 s is a hang; -rss_limit_mb: a leak or a blow-up.
  if UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
      build/fuzz/fuzz/"$name"_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "${dict[@]}" -artifact_prefix="$dir/crash/" "$dir/corpus" \
      </dev/null >"$dir/log" 2>&1; then
    echo "fuzz: $name: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" |
      grep -o '[0-9]*$') runs in ${seconds}s, corpus $(ls "$dir/corpus" | wc -l) inputs)"
    return 0
  fi
  echo "fuzz: $name: FAILED" >&2
  tail -n 60 "$dir/log" >&2
  mkdir -p "$artifacts/$name"
  cp "$dir"/crash/* "$artifacts/$name/" 2>/dev/null || true
  for f in "$artifacts/$name"/*; do
    [ -e "$f" ] && echo "fuzz: reproduce with: build/fuzz/fuzz/${name}_fuzz $f" >&2
  done
  return 1
}

failed=0
running=0
for name in "${targets[@]}"; do
  if [ ! -d fuzz/corpus/"$name" ]; then
    echo "fuzz: no target named $name (known: ${all[*]})" >&2
    exit 2
  fi
  run_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit $failed
