#!/usr/bin/env bash
# Side-by-side wall time of one large file over loopback from a private nginx:
#   bgcopy transfer (through bgcopyd)  vs  curl -o  vs  wget  [vs aria2c -x1 if installed]
# Runs are alternated (A/B/C, A/B/C, ...) so drift hits every tool alike; reports median,
# min and max, and bgcopy's ratio to curl. Writes a Markdown table to stdout.
# Usage: bench/compare.sh [BUILD_DIR] [SIZE_MIB] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
size_mib=${2:-1024}
runs=${3:-5}
bgcopy="$build/src/exe/bgcopy"
bgcopyd="$build/src/exe/bgcopyd"
[ -x "$bgcopy" ] && [ -x "$bgcopyd" ] || { echo "bench: build $build first" >&2; exit 1; }

work=$(mktemp -d /tmp/bgcopy-bench.XXXXXX)
nginx_pid=""; daemon_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/dest" "$work/nginx" "$work/state"
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat > "$work/nginx/nginx.conf" <<CONF
$user_line
daemon off; master_process off; pid $work/nginx/nginx.pid; error_log $work/nginx/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on;
  client_body_temp_path $work/nginx/b; proxy_temp_path $work/nginx/p; fastcgi_temp_path $work/nginx/f;
  uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;
  server { listen 127.0.0.1:$port; root $work/www; } }
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & nginx_pid=$!
url="http://127.0.0.1:$port/big.bin"
for _ in $(seq 100); do curl -sf -o /dev/null -r 0-0 "$url" && break; sleep 0.05; done

export BGCOPY_SOCKET="$work/bgcopyd.sock" BGCOPY_STATE_DIR="$work/state"
"$bgcopyd" --log-level warn >"$work/bgcopyd.log" 2>&1 & daemon_pid=$!
for _ in $(seq 100); do "$bgcopy" list >/dev/null 2>&1 && break; sleep 0.05; done

declare -A times
tools=(bgcopy curl wget)
command -v aria2c >/dev/null && tools+=(aria2c)
run_one() {
  local tool=$1 out="$work/dest/$1.bin"
  rm -f "$out"
  local t0 t1
  t0=$(date +%s.%N)
  case $tool in
    bgcopy) "$bgcopy" transfer "$url" "$out" >/dev/null ;;
    curl) curl -sf -o "$out" "$url" ;;
    wget) wget -q -O "$out" "$url" ;;
    aria2c) aria2c -q -x1 -d "$work/dest" -o "aria2c.bin" "$url" ;;
  esac
  t1=$(date +%s.%N)
  rm -f "$out"
  echo "$t1 - $t0" | bc
}
for ((i = 0; i < runs; i++)); do
  for tool in "${tools[@]}"; do
    sync
    times[$tool]+="$(run_one "$tool") "
  done
done
stats() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {printf "%.2f %.2f %.2f", a[int((NR+1)/2)], a[1], a[NR]}'; }
read -r curl_med _ _ <<<"$(stats "${times[curl]}")"
echo "| tool | median s | min s | max s | vs curl |"
echo "|---|---|---|---|---|"
for tool in "${tools[@]}"; do
  read -r med mn mx <<<"$(stats "${times[$tool]}")"
  ratio=$(echo "scale=2; $med / $curl_med" | bc)
  echo "| $tool | $med | $mn | $mx | ${ratio}x |"
done
echo
echo "One ${size_mib} MiB file over loopback from nginx, $runs alternated runs, $(nproc) cores, $(uname -r)."
