#!/usr/bin/env bash
# First command on a fresh Debian 12 machine: installs what bgcopy needs, builds it, and runs
# the main job — a real transfer through bgcopyd from a local nginx origin it starts (no
# network needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
# Only what the main job needs; scripts/test.sh builds everything.
cmake --build --preset release -j "$(nproc)" --target bgcopyd bgcopy_exe
exec scripts/demo.sh build/release
