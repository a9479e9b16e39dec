#!/usr/bin/env bash
# The benchmark (issue 4, SPEC §6): bgcopy against curl, wget and aria2c on this machine, all
# fetching from one private nginx on a free loopback port.
#   big    one large file (1 GiB): bgcopy transfer (one connection, and 8 when bgcopyd accepts
#          the segmented-download config), curl -o, wget, aria2c -x1, aria2c -x8 -s8
#   small  one job of 1,000 x 16 KiB: bgcopy create/add-set/resume/wait/complete, aria2c -i,
#          curl --parallel, wget -i; and, as a yardstick rather than a rival, the same files
#          copied locally with bgcopy's flushes (bench/durable_copy.py, 1 and 8 threads), and
#          curl --parallel plus the least that keeps bgcopy's promise (bench/curl_durable.sh)
#   slow   one file from a location throttled per connection (nginx limit_rate): where several
#          connections help. bgcopy single, bgcopy multi (when bgcopyd accepts the config),
#          curl -o, aria2c -x8 -s8
#   jobs   bench/jobs.sh (100,000 jobs), when present; its tables are merged in.
# Every case runs RUNS rounds; each round runs every tool once, the order rotated per round, so
# drift (page cache, thermal, the neighbours on this machine) hits every tool alike. Every
# downloaded file is checked (size + SHA-256 against the source); a wrong file fails the run.
#
# bgcopy runs against its own bgcopyd (own BGCOPY_STATE_DIR and BGCOPY_SOCKET), restarted
# before every bgcopy run so that VmHWM is that run's peak. CPU of a bgcopy run = the CLI's
# user+sys (getrusage through /usr/bin/time) + the daemon's utime+stime delta over the run
# (/proc/PID/stat). For the other tools it is their own user+sys.
#
# Writes bench/results/latest.md, latest.csv, runs.csv (every run) and chart.png.
# Usage: bench/run.sh [BUILD_DIR] [--quick]    (BUILD_DIR default build/release)
#   --quick   2 rounds, small sizes, 2,000 jobs: a smoke run of the harness, not a result.
# Environment: BENCH_CASES (default "big small slow jobs") runs a subset; BENCH_RUNS overrides
# the number of rounds; BENCH_RESULTS writes the results elsewhere (default bench/results).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

build="" quick=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench: unknown option $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
build=${build:-$root/build/release}
bgcopy="$build/src/exe/bgcopy"
bgcopyd="$build/src/exe/bgcopyd"
if [ ! -x "$bgcopy" ] || [ ! -x "$bgcopyd" ]; then
  echo "bench: no bgcopy/bgcopyd in $build; build the release preset first:" >&2
  echo "  cmake --preset release && cmake --build --preset release" >&2
  exit 1
fi
build=$(cd "$build" && pwd)
for t in curl wget aria2c nginx gnuplot bc python3 sha256sum; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
    { echo "bench: $t missing; run scripts/setup.sh" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing; run scripts/setup.sh" >&2; exit 1; }

if [ "$quick" = 1 ]; then
  runs=2 big_mib=64 small_n=100 slow_mib=16 jobs_n=2000 jobs_runs=2
else
  runs=5 big_mib=1024 small_n=1000 slow_mib=256 jobs_n=100000 jobs_runs=5
fi
runs=${BENCH_RUNS:-$runs}
cases=" ${BENCH_CASES:-big small slow jobs} "
small_kib=16
slow_rate=20m # per connection; 256 MiB take ~13 s over one connection
# Segmented download settings for the "bgcopy multi" runs (src/daemon/config.cpp [transfer]).
multi_config='[transfer]
connections_per_file = 8
segment_min_size = "4MiB"'

results=${BENCH_RESULTS:-$here/results}
mkdir -p "$results"
bench_work=$(mktemp -d /tmp/bgcopy-bench.XXXXXX)
cleanup() {
  bench_stop_all
  rm -rf "$bench_work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
www="$bench_work/www" dest="$bench_work/dest"
mkdir -p "$www/small" "$dest"
export BGCOPY_SOCKET="$bench_work/bgcopyd.sock" BGCOPY_STATE_DIR="$bench_work/state"
export BGCOPY_NO_AUTOSTART=1 # a stray auto-started daemon would skew every number
log="$bench_work/tools.log"
note() { echo "bench: $*" >&2; }

# --- source data (random, so nothing compresses) ----------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
note "preparing data"
head -c $((big_mib << 20)) /dev/urandom >"$www/big.bin"
big_sha=$(sha256sum "$www/big.bin" | cut -d' ' -f1)
if [ "$slow_mib" -le "$big_mib" ]; then
  head -c $((slow_mib << 20)) "$www/big.bin" >"$www/slow.bin"
else
  head -c $((slow_mib << 20)) /dev/urandom >"$www/slow.bin"
fi
slow_sha=$(sha256sum "$www/slow.bin" | cut -d' ' -f1)
for ((i = 0; i < small_n; i++)); do
  printf -v name 'f%04d.bin' "$i"
  head -c $((small_kib << 10)) /dev/urandom >"$www/small/$name"
done
(cd "$www/small" && sha256sum -- *.bin) >"$bench_work/small.sha256"

bench_start_nginx "$www" "location /slow/ { alias $www/; limit_rate $slow_rate; }"
base="http://127.0.0.1:$bench_port"
curl -sf -o /dev/null "$base/big.bin" -r 0-0 || { note "nginx does not serve $base/big.bin"; exit 1; }

# List files of the small case, one per tool's syntax, each writing into $dest/small.
urls="$bench_work/small.urls" curlcfg="$bench_work/small.curl" setlist="$bench_work/small.set"
stagedcfg="$bench_work/small.staged.curl"  # curl_durable.sh: into $dest/small.staging/
: >"$urls" && : >"$curlcfg" && : >"$setlist" && : >"$stagedcfg"
for ((i = 0; i < small_n; i++)); do
  printf -v name 'f%04d.bin' "$i"
  echo "$base/small/$name" >>"$urls"
  printf 'url = "%s"\noutput = "%s"\n' "$base/small/$name" "$dest/small/$name" >>"$curlcfg"
  printf 'url = "%s"\noutput = "%s"\n' "$base/small/$name" "$dest/small.staging/$name" >>"$stagedcfg"
  echo "$base/small/$name $dest/small/$name" >>"$setlist"
done
cat >"$bench_work/bgcopy_set.sh" <<EOF
set -e
id=\$("$bgcopy" create --priority foreground bench-small)
"$bgcopy" add-set "\$id" "$setlist"
"$bgcopy" resume "\$id"
"$bgcopy" wait "\$id" >/dev/null
"$bgcopy" complete "\$id"
EOF

# --- the daemon -------------------------------------------------------------------------------
echo 'log_level = "warn"' >"$bench_work/single.toml"
printf '%s\n' "$multi_config" >"$bench_work/multi.toml"
fresh_daemon() { # CONFIG: a new daemon with an empty state dir
  bench_stop_daemon
  rm -rf "$BGCOPY_STATE_DIR"
  bench_start_daemon "$bgcopyd" "$bgcopy" "$1"
}
multi_note=""
if ! fresh_daemon "$bench_work/multi.toml" 2>/dev/null; then
  multi_note="bgcopyd rejected the segmented-download config ($(grep -m1 -o 'unknown key.*\|expected.*' "$bench_work/bgcopyd.log" || echo 'see its log')), so bgcopy multi was not run"
  note "$multi_note"
fi
bench_stop_daemon

# --- one run ----------------------------------------------------------------------------------
runs_csv="$results/runs.csv"
echo "case,tool,run,wall_s,cpu_s,rss_kib,daemon_rss_kib,daemon_cpu_s,bytes,files" >"$runs_csv"

# record CASE TOOL RUN BYTES FILES "wall cpu rss" ["daemon_hwm daemon_cpu"]
record() {
  [ "$3" = warmup ] && return 0
  local w c m dh dc
  read -r w c m <<<"$6"
  read -r dh dc <<<"${7:-}"
  echo "$1,$2,$3,$w,$c,$m,${dh:-},${dc:-},$4,$5" >>"$runs_csv"
}

check_file() { # PATH SHA256 TOOL
  local got
  got=$(sha256sum "$1" 2>/dev/null | cut -d' ' -f1 || true)
  if [ "$got" != "$2" ]; then
    note "$3 produced a wrong or missing $1 (sha256 ${got:-none}, want $2); see $log"
    tail -20 "$log" >&2
    exit 1
  fi
}

check_small() { # TOOL
  if ! (cd "$dest/small" && sha256sum -- *.bin 2>/dev/null) | cmp -s - "$bench_work/small.sha256"; then
    note "$1 left a wrong or incomplete set in $dest/small ($(find "$dest/small" -type f | wc -l) files); see $log"
    tail -20 "$log" >&2
    exit 1
  fi
}

# Runs CMD... for a bgcopy tool: fresh daemon (config CONFIG) first, then CMD timed, and the
# daemon's CPU delta and peak RSS added. Sets `res` and `daemon`.
bgcopy_timed() {
  local config=$1
  shift
  fresh_daemon "$config"
  local c0 c1
  c0=$(bench_proc_cpu_s "$bench_daemon_pid")
  bench_timed res "$@" >>"$log" 2>&1 || { note "'$*' failed; see $log"; tail -20 "$log" >&2; exit 1; }
  c1=$(bench_proc_cpu_s "$bench_daemon_pid")
  local dcpu w c m
  dcpu=$(echo "$c1 - $c0" | bc -l)
  daemon="$(bench_proc_hwm_kib "$bench_daemon_pid") $dcpu"
  bench_stop_daemon
  read -r w c m <<<"$res"
  res="$w $(echo "$c + $dcpu" | bc -l) $m"
}

tool_timed() { # CMD...: sets `res`
  bench_timed res "$@" >>"$log" 2>&1 || { note "'$*' failed; see $log"; tail -20 "$log" >&2; exit 1; }
}

run_big() { # TOOL RUN
  local out="$dest/big.bin" daemon=""
  rm -f "$dest"/big.bin*
  sync
  case $1 in
    bgcopy) bgcopy_timed "$bench_work/single.toml" "$bgcopy" transfer "$base/big.bin" "$out" ;;
    bgcopy-multi) bgcopy_timed "$bench_work/multi.toml" "$bgcopy" transfer "$base/big.bin" "$out" ;;
    curl) tool_timed curl -sSf -o "$out" "$base/big.bin" ;;
    wget) tool_timed wget -q -O "$out" "$base/big.bin" ;;
    aria2c-x1) tool_timed aria2c -q -x1 -d "$dest" -o big.bin "$base/big.bin" ;;
    aria2c-x8) tool_timed aria2c -q -x8 -s8 -d "$dest" -o big.bin "$base/big.bin" ;;
  esac
  check_file "$out" "$big_sha" "$1"
  record big "$1" "$2" $((big_mib << 20)) 1 "$res" "$daemon"
  rm -f "$dest"/big.bin*
}

# The previous run's files are moved aside, not deleted, until the bench ends: on ext4 without a
# journal (this machine's disk) every new inode is checked against each inode of its block group
# freed in the last 30 s or more (fs/ext4/ialloc.c, recently_deleted()), so
# deleting 1,000 files made the next run's 1,000 creates several times slower, whichever tool
# came next (docs/benchmarks.md, "Method").
small_kept=0
run_small() { # TOOL RUN
  local daemon=""
  if [ -d "$dest/small" ]; then
    mkdir -p "$bench_work/kept"
    mv "$dest/small" "$bench_work/kept/small.$((small_kept += 1))"
  fi
  mkdir -p "$dest/small"
  sync
  case $1 in
    bgcopy) bgcopy_timed "$bench_work/single.toml" bash "$bench_work/bgcopy_set.sh" ;;
    aria2c) tool_timed aria2c -q -i "$urls" -d "$dest/small" ;;
    curl) tool_timed curl -sSf -Z -K "$curlcfg" ;;
    wget) tool_timed wget -q -i "$urls" -P "$dest/small" ;;
    durable-copy-1) tool_timed python3 "$here/durable_copy.py" "$www/small" "$dest/small" 1 ;;
    durable-copy-8) tool_timed python3 "$here/durable_copy.py" "$www/small" "$dest/small" 8 ;;
    curl-durable) tool_timed bash "$here/curl_durable.sh" "$stagedcfg" "$dest/small" ;;
  esac
  check_small "$1"
  record small "$1" "$2" $((small_n * small_kib << 10)) "$small_n" "$res" "$daemon"
}

run_slow() { # TOOL RUN
  local out="$dest/slow.bin" url="$base/slow/slow.bin" daemon=""
  rm -f "$dest"/slow.bin*
  sync
  case $1 in
    bgcopy) bgcopy_timed "$bench_work/single.toml" "$bgcopy" transfer "$url" "$out" ;;
    bgcopy-multi) bgcopy_timed "$bench_work/multi.toml" "$bgcopy" transfer "$url" "$out" ;;
    curl) tool_timed curl -sSf -o "$out" "$url" ;;
    aria2c-x8) tool_timed aria2c -q -x8 -s8 -d "$dest" -o slow.bin "$url" ;;
  esac
  check_file "$out" "$slow_sha" "$1"
  record slow "$1" "$2" $((slow_mib << 20)) 1 "$res" "$daemon"
  rm -f "$dest"/slow.bin*
}

# run_case CASE TOOL...: RUNS rounds, tool order rotated by one each round.
run_case() {
  local case=$1
  shift
  local tools=("$@") n=$# r i
  # One unrecorded round first: the first runs of a bench (right after its data was written,
  # or after an earlier bench deleted gigabytes on this discard-mounted disk) were seen to take
  # up to twice as long, for whichever tool came first.
  note "$case: warm-up round (not recorded)"
  for ((i = 0; i < n; i++)); do
    "run_$case" "${tools[i]}" warmup
  done
  for ((r = 0; r < runs; r++)); do
    note "$case: round $((r + 1))/$runs"
    for ((i = 0; i < n; i++)); do
      "run_$case" "${tools[$(((i + r) % n))]}" $((r + 1))
    done
  done
}

big_tools=(bgcopy curl wget aria2c-x1 aria2c-x8)
slow_tools=(bgcopy curl aria2c-x8)
if [ -z "$multi_note" ]; then
  big_tools+=(bgcopy-multi)
  slow_tools+=(bgcopy-multi)
fi
[[ $cases == *" big "* ]] && run_case big "${big_tools[@]}"
[[ $cases == *" small "* ]] && run_case small bgcopy curl aria2c wget durable-copy-1 durable-copy-8 \
  curl-durable
[[ $cases == *" slow "* ]] && run_case slow "${slow_tools[@]}"

# --- 100,000 jobs (bench/jobs.sh, the lead's) -------------------------------------------------
jobs_csv="$bench_work/jobs.csv" jobs_md="$bench_work/jobs.md" jobs_note=""
: >"$jobs_csv" && : >"$jobs_md"
jobs_rc=0
if [[ $cases != *" jobs "* ]]; then
  jobs_note="skipped (BENCH_CASES)"
elif [ -x "$here/jobs.sh" ]; then
  note "jobs: bench/jobs.sh $jobs_n jobs, $jobs_runs runs"
  BENCH_CSV="$jobs_csv" "$here/jobs.sh" "$build" "$jobs_n" "$jobs_runs" >"$jobs_md" \
    2>"$bench_work/jobs.err" || jobs_rc=$?
  if [ "$jobs_rc" != 0 ]; then
    jobs_note="bench/jobs.sh failed (exit $jobs_rc): $(tail -3 "$bench_work/jobs.err" | tr '\n' ' ')"
    note "$jobs_note"
  fi
else
  jobs_note="bench/jobs.sh is not there yet; the 100,000-jobs case was not run"
fi

# --- machine, report, chart -------------------------------------------------------------------
meta="$bench_work/meta.txt"
{
  echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
  echo "build=$build ($(grep -m1 '^CMAKE_BUILD_TYPE:' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2))"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores=$(nproc)"
  echo "ram=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "fs=$(df -T "$bench_work" | awk 'NR == 2 { print $2 }') ($(findmnt -no OPTIONS -T "$bench_work" | cut -d, -f1-3))"
  echo "curl=$(curl --version | head -1 | cut -d' ' -f1-2)"
  echo "wget=$(wget --version | head -1 | cut -d' ' -f1-3)"
  echo "aria2c=$(aria2c --version | head -1)"
  echo "nginx=$(/usr/sbin/nginx -v 2>&1 | cut -d: -f2- | sed 's/^ //')"
  echo "load=$load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1/5/15-min load average)"
  echo "runs=$runs"
  echo "quick=$quick"
  echo "big_mib=$big_mib"
  echo "small_n=$small_n"
  echo "small_kib=$small_kib"
  echo "slow_mib=$slow_mib"
  echo "slow_rate=$slow_rate"
  echo "multi_config=$(echo "$multi_config" | tr '\n' ' ')"
  echo "multi_note=$multi_note"
  echo "jobs_note=$jobs_note"
} >"$meta"
python3 "$here/report.py" "$runs_csv" "$meta" "$jobs_csv" "$jobs_md" "$results"
gnuplot -e "datafile='$results/chart.dat'; outfile='$results/chart.png'" "$here/chart.gp"
rm -f "$results/chart.dat"
note "wrote $results/latest.md, latest.csv, runs.csv, chart.png"
exit "$jobs_rc"
