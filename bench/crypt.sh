#!/usr/bin/env bash
# What encryption costs: plain and encrypted backups and restores of the
# same corpus (bench/backup_restore.sh's copy of /usr/share, >= 1 GiB) into
# local stores, interleaved in one run, the page cache dropped before each
# step. Each round: a first backup into a new store (every chunk new:
# hashed, compressed, and for the encrypted one sealed with AES-256-GCM),
# then a restore of it; the order alternates between rounds. Prints each
# round's times and the encrypted/plain throughput ratios.
#
# usage: bench/crypt.sh [BUILD_DIR] [WORK_DIR]
#   BUILD_DIR default build/release; WORK_DIR default /var/tmp/cv-bench
#   ROUNDS    default 3;  JOBS  --jobs for chunkvault (default: its own)
#   CORPUS    the directory backed up (default WORK_DIR/corpus)
set -euo pipefail

BUILD=${1:-build/release}
WORK=$(readlink -m "${2:-/var/tmp/cv-bench}")
CV=$(readlink -f "$BUILD/src/chunkvault")
ROUNDS=${ROUNDS:-3}
JOBS_OPT=()
[ -n "${JOBS:-}" ] && JOBS_OPT=(--jobs "$JOBS")
corpus=$(readlink -m "${CORPUS:-$WORK/corpus}")
[ -d "$corpus" ] || { echo "no corpus in $corpus: run bench/backup_restore.sh once" >&2; exit 1; }
bytes=$(du -sb --apparent-size "$corpus" | cut -f1)

export CHUNKVAULT_ENCRYPTION_PASSWORD=bench-crypt-passphrase
KEY=$WORK/crypt-key.json
[ -f "$KEY" ] || "$CV" key create "$KEY" >/dev/null

cold() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# run MODE: a first backup into a new store, then its restore; prints
# "<backup s> <restore s>".
run() {
  local mode=$1 store=$WORK/crypt-store-$1 key=()
  [ "$mode" = encrypted ] && key=(--keyfile "$KEY")
  rm -rf "$store" "$WORK/crypt-restore"
  "$CV" init --store "$store" >/dev/null
  cold; local t0; t0=$(now)
  local snap
  snap=$("$CV" backup --store "$store" "${JOBS_OPT[@]}" "${key[@]}" --backup-id bench \
         "root.tar:$corpus" 2>/dev/null)
  local b; b=$(elapsed "$t0" "$(now)")
  cold; t0=$(now)
  "$CV" restore --store "$store" "${JOBS_OPT[@]}" "${key[@]}" "$snap" root.tar \
    "$WORK/crypt-restore" 2>/dev/null
  local r; r=$(elapsed "$t0" "$(now)")
  echo "$b $r"
}

echo "corpus: $(awk -v b="$bytes" 'BEGIN{printf "%.2f GiB", b/2^30}'), $(nproc) cores" >&2
echo "| round | plain backup | encrypted backup | ratio | plain restore | encrypted restore | ratio |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    read -r pb pr < <(run plain); read -r eb er < <(run encrypted)
  else
    read -r eb er < <(run encrypted); read -r pb pr < <(run plain)
  fi
  # ratio: encrypted throughput over plain throughput (= plain time / encrypted time)
  awk -v r="$round" -v pb="$pb" -v eb="$eb" -v pr="$pr" -v er="$er" -v bytes="$bytes" 'BEGIN {
    m = bytes / 2^20
    printf "| %d | %.1f s (%.0f MiB/s) | %.1f s (%.0f MiB/s) | %.2fx | %.1f s | %.1f s | %.2fx |\n",
           r, pb, m / pb, eb, m / eb, pb / eb, pr, er, pr / er }'
done
rm -rf "$WORK"/crypt-store-* "$WORK/crypt-restore"
