#!/usr/bin/env bash
# The local chunk cache in front of S3, in one run against a local Ceph RGW
# (started here): backups with no cache, with an empty cache and with
# everything cached, then restores with the cache emptied and with it warm.
# Each row reports MiB/s and the S3 requests the command counted (--json).
# Prints a markdown table for docs/benchmarks.md.
#
# usage: bench/s3_cache.sh [BUILD_DIR] [WORK_DIR]
#   CORPUS   directory to back up (default: WORK_DIR/corpus from
#            bench/backup_restore.sh; at least 1 GiB)
set -euo pipefail

BUILD=${1:-build/release}
WORK=$(readlink -m "${2:-/var/tmp/cv-bench}")
CV=$(readlink -f "$BUILD/src/chunkvault")
HERE=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$WORK/corpus}
[ -d "$CORPUS" ] || { echo "no corpus at $CORPUS: run bench/backup_restore.sh first" >&2; exit 1; }
bytes=$(du -sb --apparent-size "$CORPUS" | cut -f1)
[ "$bytes" -ge $((1 << 30)) ] || { echo "corpus $CORPUS is under 1 GiB" >&2; exit 1; }

# shellcheck source=bench/s3_bench_lib.sh
. "$HERE/bench/s3_bench_lib.sh"
cached_bytes() { find "$1/.chunks" -type f -size +0 -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

# One row: label, store, then the command's arguments (it must print --json).
row() {
  local label=$1 store=$2
  shift 2
  cold
  local t0 t1 json
  t0=$(date +%s.%N)
  json=$("$CV" "$@" --store "$store" --json 2>/dev/null)
  t1=$(date +%s.%N)
  jq -r --arg name "$label" --argjson t "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
     --argjson bytes "$bytes" --argjson cached "$(cached_bytes "$store")" '
    def mib: . / 1048576 | floor;
    "| \($name) | \($t * 10 | round / 10) s | \($bytes / $t | mib) MiB/s | \(.["s3-requests"].get) | \(.["s3-requests"].put) | \(.["s3-requests"].head) | \(.cache["uploads-skipped"]) | \(.cache.hits) | \($cached | mib) MiB |"' \
     <<<"$json"
}

echo "corpus: $(awk -v b="$bytes" 'BEGIN{printf "%.2f GiB", b/2^30}') ($CORPUS), $(nproc) cores"
echo
echo "| run | time | rate | GET | PUT | HEAD | uploads skipped | cache hits | cached locally after |"
echo "|---|---|---|---|---|---|---|---|---|"
s3_init "$WORK/cache-none" none
row "backup, no cache (\`--no-cache\`)" "$WORK/cache-none" backup --no-cache --backup-id bench "root.tar:$CORPUS"
s3_init "$WORK/cache-on" cache
row "backup, empty cache" "$WORK/cache-on" backup --backup-id bench "root.tar:$CORPUS"
row "backup, everything cached" "$WORK/cache-on" backup --backup-id bench "root.tar:$CORPUS"
snap=$("$CV" snapshots --store "$WORK/cache-on" --json | jq -r '.[-1].snapshot')
find "$WORK/cache-on/.chunks" -type f -delete
rm -rf "$WORK/cache-restore"
row "restore, cache emptied" "$WORK/cache-on" restore "$snap" root.tar "$WORK/cache-restore"
rm -rf "$WORK/cache-restore"
row "restore, everything cached" "$WORK/cache-on" restore "$snap" root.tar "$WORK/cache-restore"
rm -rf "$WORK/cache-restore" "$WORK/cache-none" "$WORK/cache-on"
