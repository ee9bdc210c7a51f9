#!/usr/bin/env bash
# Backup and restore throughput of chunkvault on a directory of at least
# 1 GiB (a copy of /usr/share, topped up from /usr/lib), store and corpus on
# the same local disk. Prints a markdown table for docs/benchmarks.md.
#
# usage: bench/backup_restore.sh [BUILD_DIR] [WORK_DIR]
#   BUILD_DIR  default build/release;  WORK_DIR  default /var/tmp/cv-bench
#   JOBS       --jobs for chunkvault (default: one per core)
set -euo pipefail

BUILD=${1:-build/release}
WORK=$(readlink -m "${2:-/var/tmp/cv-bench}")
CV=$(readlink -f "$BUILD/src/chunkvault")
JOBS_OPT=()
[ -n "${JOBS:-}" ] && JOBS_OPT=(--jobs "$JOBS")
export CHUNKVAULT_STORE=$WORK/store
MIN_BYTES=$((1 << 30))

corpus=$WORK/corpus
if [ ! -d "$corpus" ]; then
  mkdir -p "$corpus"
  cp -a /usr/share "$corpus/share"
  for extra in /usr/lib/x86_64-linux-gnu /usr/lib /usr/libexec /usr/bin; do
    [ "$(du -sb "$corpus" | cut -f1)" -ge "$MIN_BYTES" ] && break
    [ -d "$extra" ] && cp -a "$extra" "$corpus/$(echo "$extra" | tr / _)"
  done
fi
bytes=$(du -sb --apparent-size "$corpus" | cut -f1)
files=$(find "$corpus" | wc -l)
[ "$bytes" -ge "$MIN_BYTES" ] || { echo "corpus is only $bytes bytes" >&2; exit 1; }

rm -rf "$CHUNKVAULT_STORE" "$WORK/restore"
"$CV" init >/dev/null

# Starts every timed step with cold caches when the kernel lets us.
cold() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
mibs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
row() { printf '| %s | %.1f s | %s MiB/s |\n' "$1" "$2" "$(mibs "$3" "$2")"; }

cold; t0=$(now)
snap=$("$CV" backup "${JOBS_OPT[@]}" --backup-id bench "root.tar:$corpus" 2>/dev/null)
t1=$(now); backup1=$(elapsed "$t0" "$t1")
cold; t0=$(now)
"$CV" backup "${JOBS_OPT[@]}" --backup-id bench "root.tar:$corpus" >/dev/null 2>&1
t1=$(now); backup2=$(elapsed "$t0" "$t1")
stored=$(du -sb "$CHUNKVAULT_STORE/.chunks" | cut -f1)
cold; t0=$(now)
"$CV" restore "${JOBS_OPT[@]}" "$snap" root.tar "$WORK/restore" 2>/dev/null
t1=$(now); restore=$(elapsed "$t0" "$t1")
cold; t0=$(now)
"$CV" cat "${JOBS_OPT[@]}" "$snap" root.tar > /dev/null
t1=$(now); cat=$(elapsed "$t0" "$t1")
cold; t0=$(now)
"$CV" verify "${JOBS_OPT[@]}" "$snap" >/dev/null 2>&1
t1=$(now); verify=$(elapsed "$t0" "$t1")
diff -r --no-dereference "$corpus" "$WORK/restore" >/dev/null || { echo "restore differs!" >&2; exit 1; }

echo "corpus: $(awk -v b="$bytes" 'BEGIN{printf "%.2f GiB", b/2^30}') in $files entries;" \
     "stored: $(awk -v b="$stored" 'BEGIN{printf "%.2f GiB", b/2^30}'); jobs: ${JOBS:-$(nproc)}"
echo
echo "| step | time | throughput |"
echo "|---|---|---|"
row "backup into a new store" "$backup1" "$bytes"
row "backup again, unchanged (all chunks known)" "$backup2" "$bytes"
row "restore (extract the tree)" "$restore" "$bytes"
row "cat (read the tar stream, no extraction)" "$cat" "$bytes"
row "verify (read + check every chunk)" "$verify" "$bytes"
rm -rf "$WORK/restore"
