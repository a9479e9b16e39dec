#!/usr/bin/env bash
# The 100,000-jobs case (SPEC §6): against one bgcopyd with its own state dir,
#   1. create + add + resume of N jobs over the socket (bgcopy_jobs_load, C client threads):
#      the first half with three requests per job, the second with one (Manager::submit_job),
#   2. `bgcopy list --json` with N jobs persisted (RUNS timed runs),
#   3. restart to serving: SIGTERM, start again, first answered GET /v1/health (RUNS times),
#   4. the daemon's RSS after loading N jobs (VmRSS, and VmHWM since that start).
# The jobs download a 1 KiB file from a private nginx, so they are real jobs that run (a few
# at a time, under max_background_jobs) while everything is measured.
# Markdown to stdout; with BENCH_CSV=FILE also appends "case,tool,metric,median,min,max,unit".
# Usage: bench/jobs.sh [BUILD_DIR] [JOBS] [RUNS] [CLIENTS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
njobs=${2:-100000}
runs=${3:-5}
clients=${4:-8}
bgcopy="$build/src/exe/bgcopy"
bgcopyd="$build/src/exe/bgcopyd"
load="$build/bench/bgcopy_jobs_load"
for b in "$bgcopy" "$bgcopyd" "$load"; do
  [ -x "$b" ] || { echo "jobs.sh: $b missing; build the release preset first" >&2; exit 1; }
done

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_work=$(mktemp -d /tmp/bgcopy-jobs.XXXXXX)
work=$bench_work
cleanup() {
  bench_stop_all
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/dest" "$work/state"
head -c 1024 /dev/urandom > "$work/www/small.bin"
bench_start_nginx "$work/www"
url="http://127.0.0.1:$bench_port/small.bin"

export BGCOPY_SOCKET="$work/bgcopyd.sock" BGCOPY_STATE_DIR="$work/state"
# Restart timing needs the start itself, not bench_start_daemon's wait: bgcopy_jobs_load
# polls GET /v1/health and prints when it first answered.
start_daemon() {
  "$bgcopyd" --log-level warn >>"$work/bgcopyd.log" 2>&1 &
  bench_daemon_pid=$!
}
kib() { awk -v k="$1" '$1==k":" {print $2}' "/proc/$bench_daemon_pid/status"; }
mib() { echo "scale=1; $1 / 1024" | bc -l; }
csv() { [ -n "${BENCH_CSV:-}" ] && echo "$1" >> "$BENCH_CSV" || true; }

start_daemon
"$load" ready --socket "$BGCOPY_SOCKET" >/dev/null

half=$((njobs / 2))
create_json=$("$load" create --socket "$BGCOPY_SOCKET" --jobs "$half" --clients "$clients" \
  --url "$url" --dest-dir "$work/dest")
jps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["jobs_per_s"])' "$create_json")
create_s=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$create_json")
submit_json=$("$load" create --socket "$BGCOPY_SOCKET" --jobs "$((njobs - half))" \
  --clients "$clients" --url "$url" --dest-dir "$work/dest" --atomic --first "$half")
sps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["jobs_per_s"])' "$submit_json")
submit_s=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$submit_json")

list_times=()
for _ in $(seq "$runs"); do
  t0=$(bench_now)
  "$bgcopy" list --json > "$work/list.json"
  list_times+=("$(bench_elapsed "$t0" "$(bench_now)")")
done
listed=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/list.json")
[ "$listed" = "$njobs" ] || { echo "jobs.sh: list shows $listed jobs, expected $njobs" >&2; exit 1; }
rss_run=$(kib VmRSS); hwm_run=$(kib VmHWM)

restart_times=(); rss_loaded=()
for _ in $(seq "$runs"); do
  bench_stop_daemon
  t0=$(bench_now)
  start_daemon
  t1=$("$load" ready --socket "$BGCOPY_SOCKET")
  restart_times+=("$(bench_elapsed "$t0" "$t1")")
  rss_loaded+=("$(mib "$(kib VmRSS)")")
done
hwm_loaded=$(kib VmHWM)

read -r lmed lmin lmax < <(printf '%s\n' "${list_times[@]}" | bench_stats)
read -r rmed rmin rmax < <(printf '%s\n' "${restart_times[@]}" | bench_stats)
read -r smed smin smax < <(printf '%s\n' "${rss_loaded[@]}" | bench_stats)

echo "### $njobs jobs (one 1 KiB file each), $clients client threads"
echo
echo "| measure | median | min | max | target |"
echo "|---|---|---|---|---|"
echo "| create + add + resume over the socket, 3 requests per job | $jps jobs/s (${create_s} s for $half) | | | 5,000+ jobs/s |"
echo "| the same as one request per job (\`submit_job\`) | $sps jobs/s (${submit_s} s for $((njobs - half))) | | | 5,000+ jobs/s |"
echo "| \`bgcopy list --json\` ($listed jobs) | ${lmed} s | ${lmin} s | ${lmax} s | < 2 s |"
echo "| restart to serving | ${rmed} s | ${rmin} s | ${rmax} s | < 1 s |"
echo "| daemon RSS after restart with $njobs jobs | $smed MiB | $smin MiB | $smax MiB | < 200 MiB |"
echo "| daemon RSS / peak after creating and listing them | $(mib "$rss_run") / $(mib "$hwm_run") MiB | | | |"
echo "| daemon peak RSS since last restart | $(mib "$hwm_loaded") MiB | | | |"
csv "jobs,bgcopy,create_jobs_per_s,$jps,$jps,$jps,jobs/s"
csv "jobs,bgcopy,submit_jobs_per_s,$sps,$sps,$sps,jobs/s"
csv "jobs,bgcopy,list_json_s,$lmed,$lmin,$lmax,s"
csv "jobs,bgcopy,restart_s,$rmed,$rmin,$rmax,s"
csv "jobs,bgcopy,rss_loaded_mib,$smed,$smin,$smax,MiB"
