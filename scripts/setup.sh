#!/usr/bin/env bash
# Installs every Debian package bgcopy needs to build, test and benchmark.
# Idempotent: apt-get only installs what is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libcurl4-openssl-dev libsqlite3-dev sqlite3 libssl-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libboost-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nginx-light curl wget bc python3 procps
  clang-format clang-tidy
  clang libclang-rt-14-dev
  aria2 hyperfine gnuplot-nox iproute2 time
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# The Debian nginx package enables and starts a system nginx on port 80; tests run their own
# instances on free loopback ports and never need it. Stop it so it holds no port, if it runs.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || true
fi
