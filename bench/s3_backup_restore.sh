#!/usr/bin/env bash
# Backup and restore throughput through S3 (a local Ceph RGW on memstore,
# started here) with 1, 4 and 16 requests in flight (--jobs). Restores read
# every chunk from the bucket: the local copies are removed first. Prints a
# markdown table for docs/benchmarks.md.
#
# usage: bench/s3_backup_restore.sh [BUILD_DIR] [WORK_DIR]
#   CORPUS   directory to back up (default: WORK_DIR/corpus from
#            bench/backup_restore.sh, else a copy of /usr/share/doc)
#   JOBS     the in-flight counts to try (default "1 4 16")
set -euo pipefail

BUILD=${1:-build/release}
WORK=$(readlink -m "${2:-/var/tmp/cv-bench}")
CV=$(readlink -f "$BUILD/src/chunkvault")
HERE=$(cd "$(dirname "$0")/.." && pwd)
JOBS_LIST=${JOBS:-"1 4 16"}
mkdir -p "$WORK"

CORPUS=${CORPUS:-$WORK/corpus}
if [ ! -d "$CORPUS" ]; then
  CORPUS=$WORK/corpus-doc
  [ -d "$CORPUS" ] || cp -a /usr/share/doc "$CORPUS"
fi
bytes=$(du -sb --apparent-size "$CORPUS" | cut -f1)

# shellcheck source=bench/s3_bench_lib.sh
. "$HERE/bench/s3_bench_lib.sh"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
mibs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

echo "corpus: $(awk -v b="$bytes" 'BEGIN{printf "%.2f GiB", b/2^30}') ($CORPUS)"
echo
echo "| requests in flight | backup | restore from the bucket | cat from the bucket (no extraction) |"
echo "|---|---|---|---|"
for jobs in $JOBS_LIST; do
  store=$WORK/s3-store-$jobs
  rm -rf "$WORK/s3-restore"
  s3_init "$store" "bench$jobs"
  cold; t0=$(now)
  snap=$("$CV" backup --store "$store" --jobs "$jobs" --backup-id bench "root.tar:$CORPUS" 2>/dev/null)
  t1=$(now); backup=$(elapsed "$t0" "$t1")
  find "$store/.chunks" -type f -delete
  cold; t0=$(now)
  "$CV" restore --store "$store" --jobs "$jobs" "$snap" root.tar "$WORK/s3-restore" 2>/dev/null
  t1=$(now); restore=$(elapsed "$t0" "$t1")
  diff -r --no-dereference "$CORPUS" "$WORK/s3-restore" >/dev/null || { echo "restore differs!" >&2; exit 1; }
  find "$store/.chunks" -type f -delete
  cold; t0=$(now)
  "$CV" cat --store "$store" --jobs "$jobs" "$snap" root.tar > /dev/null
  t1=$(now); cat=$(elapsed "$t0" "$t1")
  printf '| %s | %.1f s, %s MiB/s | %.1f s, %s MiB/s | %.1f s, %s MiB/s |\n' "$jobs" \
    "$backup" "$(mibs "$bytes" "$backup")" "$restore" "$(mibs "$bytes" "$restore")" \
    "$cat" "$(mibs "$bytes" "$cat")"
  rm -rf "$store" "$WORK/s3-restore"
done
