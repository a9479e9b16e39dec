# shellcheck shell=bash
# Shell helpers shared by the bench scripts (sourced, not run). Everything runs on loopback
# against a private nginx and a private bgcopyd; nothing here touches the user's own service.
# The caller sets `bench_work` (a temp dir it owns) before calling bench_start_*.

bench_nginx_pid=""
bench_daemon_pid=""
bench_port=""

bench_now() { date +%s.%N; }

# Seconds elapsed between two bench_now stamps.
bench_elapsed() { echo "$2 - $1" | bc -l; }

# A free loopback TCP port (bound and released; nginx binds it right after).
bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Polls "$@" every 50 ms until it succeeds or `deadline_s` passes (then returns 1).
bench_wait_until() {
  local deadline_s=$1
  shift
  local end
  end=$(echo "$(date +%s.%N) + $deadline_s" | bc -l)
  until "$@" >/dev/null 2>&1; do
    if [ "$(echo "$(date +%s.%N) > $end" | bc -l)" = 1 ]; then return 1; fi
    sleep 0.05
  done
}

# bench_start_nginx ROOT [DIRECTIVES]: serves ROOT on 127.0.0.1:$bench_port, one worker, sendfile
# (the way nginx is usually deployed). DIRECTIVES go into the server block, e.g. a throttled
# location. Sets bench_nginx_pid and bench_port.
bench_start_nginx() {
  local www=$1 extra=${2:-}
  local dir="${bench_work:?set bench_work first}/nginx"
  mkdir -p "$dir"
  bench_port=$(bench_free_port)
  local user_line=""
  [ "$(id -u)" = 0 ] && user_line="user root;"
  cat >"$dir/nginx.conf" <<CONF
$user_line
daemon off; master_process off; pid $dir/nginx.pid; error_log $dir/error.log;
events { worker_connections 2048; }
http { access_log off; sendfile on; keepalive_requests 100000;
  client_body_temp_path $dir/b; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f;
  uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
  server { listen 127.0.0.1:$bench_port; root $www; $extra } }
CONF
  /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" &
  bench_nginx_pid=$!
  # Any HTTP answer (even 404) means nginx is serving.
  bench_wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$bench_port/" || {
    echo "bench: nginx did not start (see $dir/error.log)" >&2
    return 1
  }
}

# bench_start_daemon BGCOPYD BGCOPY [CONFIG]: a fresh bgcopyd on $BGCOPY_SOCKET /
# $BGCOPY_STATE_DIR (the caller exports both), ready when `bgcopy list` answers.
# Sets bench_daemon_pid. Returns 1 (and prints the log) if it exits or does not answer.
bench_start_daemon() {
  local bgcopyd=$1 bgcopy=$2 config=${3:-}
  local args=(--log-level warn)
  [ -n "$config" ] && args+=(--config "$config")
  "$bgcopyd" "${args[@]}" >>"$bench_work/bgcopyd.log" 2>&1 &
  bench_daemon_pid=$!
  if ! bench_wait_until 10 bench_daemon_answers "$bgcopy"; then
    echo "bench: bgcopyd did not start; its log:" >&2
    tail -5 "$bench_work/bgcopyd.log" >&2
    bench_stop_daemon
    return 1
  fi
}

bench_daemon_answers() {
  kill -0 "$bench_daemon_pid" 2>/dev/null && "$1" list >/dev/null 2>&1
}

bench_stop_daemon() {
  [ -n "$bench_daemon_pid" ] || return 0
  kill -TERM "$bench_daemon_pid" 2>/dev/null || true
  wait "$bench_daemon_pid" 2>/dev/null || true
  bench_daemon_pid=""
}

bench_stop_all() {
  bench_stop_daemon
  if [ -n "$bench_nginx_pid" ]; then
    kill "$bench_nginx_pid" 2>/dev/null || true
    wait "$bench_nginx_pid" 2>/dev/null || true
    bench_nginx_pid=""
  fi
}

# CPU seconds (user + system) a live process has used so far, from /proc/PID/stat.
bench_proc_cpu_s() {
  local hz
  hz=$(getconf CLK_TCK)
  # Fields 14 and 15 after the ")" that ends the command name (which may hold spaces).
  awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}

# Peak resident set (VmHWM, KiB) of a live process since it started.
bench_proc_hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# bench_timed OUT_VAR CMD...: runs CMD under /usr/bin/time; sets OUT_VAR to
# "wall_s cpu_s maxrss_kib" (cpu = user + sys of CMD and the children it waited for; maxrss =
# the largest of them). Returns CMD's exit status.
bench_timed() {
  local __out=$1
  shift
  local tf="$bench_work/time.out" t0 t1 rc=0
  t0=$(bench_now)
  /usr/bin/time -f '%U %S %M' -o "$tf" "$@" || rc=$?
  t1=$(bench_now)
  local u s m
  read -r u s m <"$tf"
  printf -v "$__out" '%s %s %s' "$(bench_elapsed "$t0" "$t1")" "$(echo "$u + $s" | bc -l)" "$m"
  return "$rc"
}

# "median min max" of the numbers on stdin (median of an even count: the mean of the middle two).
bench_stats() {
  sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "nan nan nan"; exit }
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf "%.4g %.4g %.4g\n", m, a[1], a[NR] }'
}
