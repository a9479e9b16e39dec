#!/usr/bin/env bash
# A yardstick for the small-files case, not a rival: `curl --parallel` plus the least a
# downloader must add to keep bgcopy's promise (SPEC §2 and §6: a file reaches its final name
# only whole and flushed, and a crash corrupts no final file). curl writes every file
# into a fresh directory beside the destination; one `syncfs` flushes them all (the cheapest
# flush there is, cheaper than one per file); the whole directory is then renamed into place
# and its parent flushed. No per-file record, no events, no per-file rename: a floor under
# what bgcopy does for the same files, not a design (bgcopy's files go one by one into
# directories that already exist and hold other files).
# Usage: curl_durable.sh CURL_CONFIG DIR
#   CURL_CONFIG writes each file into DIR.staging/; DIR must exist and be empty.
set -euo pipefail
config=$1 dir=$2
staging="$dir.staging"
mkdir "$staging"
curl -sSf -Z -K "$config"
sync -f "$staging"
rmdir "$dir"
mv -T "$staging" "$dir"
sync "$(dirname "$dir")"
