#!/usr/bin/env bash
# The 100,000-jobs case (SPEC §6): against one bgcopyd with its own state dir,
#   1. create + add + resume of N jobs over the socket (bgcopy_jobs_load, C client threads),
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

work=$(mktemp -d /tmp/bgcopy-jobs.XXXXXX)
nginx_pid=""; daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/dest" "$work/nginx" "$work/state"
head -c 1024 /dev/urandom > "$work/www/small.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat > "$work/nginx/nginx.conf" <<CONF
$user_line
daemon off; master_process off; pid $work/nginx/nginx.pid; error_log $work/nginx/error.log;
events { worker_connections 256; }
http { access_log off; sendfile on;
  client_body_temp_path $work/nginx/b; proxy_temp_path $work/nginx/p; fastcgi_temp_path $work/nginx/f;
  uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;
  server { listen 127.0.0.1:$port; root $work/www; } }
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & nginx_pid=$!
url="http://127.0.0.1:$port/small.bin"
for _ in $(seq 200); do curl -sf -o /dev/null "$url" && break; sleep 0.05; done

export BGCOPY_SOCKET="$work/bgcopyd.sock" BGCOPY_STATE_DIR="$work/state"
start_daemon() {
  "$bgcopyd" --log-level warn >>"$work/bgcopyd.log" 2>&1 &
  daemon_pid=$!
}
stop_daemon() {
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
now() { date +%s.%N; }
# median/min/max of the numbers on stdin
stats() { sort -g | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f %.3f %.3f\n", m, v[1], v[NR]}'; }
kib() { awk -v k="$1" '$1==k":" {print $2}' "/proc/$daemon_pid/status"; }
csv() { [ -n "${BENCH_CSV:-}" ] && echo "$1" >> "$BENCH_CSV" || true; }

start_daemon
"$load" ready --socket "$BGCOPY_SOCKET" >/dev/null

create_json=$("$load" create --socket "$BGCOPY_SOCKET" --jobs "$njobs" --clients "$clients" \
  --url "$url" --dest-dir "$work/dest")
jps=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["jobs_per_s"])' "$create_json")
create_s=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$create_json")

list_times=()
for _ in $(seq "$runs"); do
  t0=$(now)
  "$bgcopy" list --json > "$work/list.json"
  t1=$(now)
  list_times+=("$(echo "$t1 - $t0" | bc -l)")
done
listed=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/list.json")
[ "$listed" = "$njobs" ] || { echo "jobs.sh: list shows $listed jobs, expected $njobs" >&2; exit 1; }
rss_run=$(kib VmRSS); hwm_run=$(kib VmHWM)

restart_times=(); rss_loaded=()
for _ in $(seq "$runs"); do
  stop_daemon
  t0=$(now)
  start_daemon
  t1=$("$load" ready --socket "$BGCOPY_SOCKET")
  restart_times+=("$(echo "$t1 - $t0" | bc -l)")
  rss_loaded+=("$(kib VmRSS)")
done
hwm_loaded=$(kib VmHWM)

read -r lmed lmin lmax < <(printf '%s\n' "${list_times[@]}" | stats)
read -r rmed rmin rmax < <(printf '%s\n' "${restart_times[@]}" | stats)
read -r smed smin smax < <(printf '%s\n' "${rss_loaded[@]}" | stats)
mib() { echo "scale=1; $1 / 1024" | bc -l; }

echo "### $njobs jobs (one 1 KiB file each), $clients client threads"
echo
echo "| measure | median | min | max | target |"
echo "|---|---|---|---|---|"
echo "| create + add + resume over the socket | $jps jobs/s (${create_s} s for $njobs) | | | 5,000+ jobs/s |"
echo "| \`bgcopy list --json\` ($listed jobs) | ${lmed} s | ${lmin} s | ${lmax} s | < 2 s |"
echo "| restart to serving | ${rmed} s | ${rmin} s | ${rmax} s | < 1 s |"
echo "| daemon RSS after restart with $njobs jobs | $(mib "$smed") MiB | $(mib "$smin") MiB | $(mib "$smax") MiB | < 200 MiB |"
echo "| daemon RSS / peak after creating them | $(mib "$rss_run") / $(mib "$hwm_run") MiB | | | |"
echo "| daemon peak RSS since last restart | $(mib "$hwm_loaded") MiB | | | |"
csv "jobs,bgcopy,create_jobs_per_s,$jps,$jps,$jps,jobs/s"
csv "jobs,bgcopy,list_json_s,$lmed,$lmin,$lmax,s"
csv "jobs,bgcopy,restart_s,$rmed,$rmin,$rmax,s"
csv "jobs,bgcopy,rss_loaded_mib,$(mib "$smed"),$(mib "$smin"),$(mib "$smax"),MiB"
