#!/usr/bin/env bash
# The main job: start a private nginx on a free loopback port serving a 64 MiB file, then
#   bgcopy transfer --sha256 HEX URL DEST
# which starts a user-mode bgcopyd on demand, transfers through it, checks the checksum and
# completes the job. Everything lives in a temp dir that is removed at the end.
# Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
bgcopy="$build/src/exe/bgcopy"
[ -x "$bgcopy" ] || { echo "demo: $bgcopy not built; run scripts/bootstrap.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/bgcopy-demo.XXXXXX)
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  # Stop the bgcopyd that `bgcopy` started on demand for this state dir (and only that one).
  for pid in $(pgrep -x bgcopyd 2>/dev/null); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "BGCOPY_STATE_DIR=$work/state"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/dest" "$work/run" "$work/state" "$work/nginx"

echo "demo: making a 64 MiB file to serve"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$work/www/payload.bin"
sha=$(sha256sum "$work/www/payload.bin" | cut -d' ' -f1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat > "$work/nginx/nginx.conf" <<CONF
$user_line
daemon off;
master_process off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  sendfile on;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/payload.bin" -r 0-0 && break
  sleep 0.05
done

export BGCOPY_SOCKET="$work/run/bgcopyd.sock" BGCOPY_STATE_DIR="$work/state"
echo "demo: bgcopy transfer --sha256 $sha http://127.0.0.1:$port/payload.bin $work/dest/payload.bin"
"$bgcopy" transfer --sha256 "$sha" "http://127.0.0.1:$port/payload.bin" "$work/dest/payload.bin"
got=$(sha256sum "$work/dest/payload.bin" | cut -d' ' -f1)
[ "$got" = "$sha" ] || { echo "demo: checksum mismatch" >&2; exit 1; }
echo "demo: OK — $work/dest/payload.bin arrived through bgcopyd, sha256 $got"
