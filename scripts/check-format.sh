#!/usr/bin/env bash
# Fails if any C++ file differs from .clang-format (clang-format 14, as Debian 12 ships).
# Fix with: git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check-format: $f is not formatted" >&2
    bad=1
  fi
done < <(git ls-files '*.cpp' '*.hpp')
exit $bad
