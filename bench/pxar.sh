#!/usr/bin/env bash
# pxar against tar: the same dataset as compare-restic (>= 2 GiB from
# /usr), the same local Ceph RGW (started here), S3-backed stores. Per
# repetition, interleaved and with the order rotating, each format gets a
# fresh store and:
#   1. a first backup of the dataset
#   2. a restore with the chunk cache warm
# and the CPU seconds of the backup's two sides: chunkvault's (user + sys,
# /usr/bin/time) and the RGW's (radosgw, ceph-osd and ceph-mon, /proc).
# and pxar a listing of the dataset's root (`ls`) and of one directory
# with the chunk cache emptied, the S3 GETs it made counted.
# The page cache is dropped before every step. Prints a markdown table of
# the medians and the pxar/tar ratios for docs/benchmarks.md.
#
# usage: bench/pxar.sh [BUILD_DIR] [WORK_DIR]
#   BUILD_DIR  default build/release;  WORK_DIR  default /var/tmp/cv-pxar
#   REPS       repetitions (default 3)
#   DATA       the dataset (default: WORK_DIR/data)
#   JOBS       backup --jobs (default: chunkvault's own)
set -euo pipefail

BUILD=${1:-build/release}
WORK=$(readlink -m "${2:-/var/tmp/cv-pxar}")
HERE=$(cd "$(dirname "$0")/.." && pwd)
CV=$(readlink -f "$BUILD/src/chunkvault" || true)
REPS=${REPS:-3}
DATA=$(readlink -m "${DATA:-$WORK/data}")
[ -x "$CV" ] || { echo "no chunkvault binary in $BUILD: run make build" >&2; exit 1; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
mkdir -p "$WORK"

# shellcheck source=bench/dataset_lib.sh
. "$HERE/bench/dataset_lib.sh"
make_dataset "$DATA"
# shellcheck source=bench/s3_bench_lib.sh
. "$HERE/bench/s3_bench_lib.sh"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
: > "$WORK/results.tsv"
# The RGW's CPU time in clock ticks (1/100 s) and chunkvault's in seconds.
rgw_cpu() {
  local f total=0
  for f in "$WORK"/rgw/run/{rgw,osd,mon}.pid; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$(cat "$f")/stat")))
  done
  echo "$total"
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$WORK/results.tsv"; }

# run FORMAT REP: one repetition of one format.
run() {
  local fmt=$1 rep=$2 store=$WORK/store-$1 t0 t1 r0 snap
  s3_init "$store" "pxar-bench-$fmt"
  cold
  t0=$(now)
  r0=$(rgw_cpu)
  snap=$(/usr/bin/time -f "%U %S" -o "$WORK/cpu" "$CV" backup ${JOBS:+--jobs "$JOBS"} --store "$store" --backup-id bench "root.$fmt:$DATA" 2>/dev/null)
  t1=$(now)
  record "$rep" "first backup" "$fmt" "$(elapsed "$t0" "$t1")"
  record "$rep" "first backup: chunkvault CPU" "$fmt" "$(awk '{ print $1 + $2 }' "$WORK/cpu")"
  record "$rep" "first backup: RGW CPU" "$fmt" "$(awk -v a="$r0" -v b="$(rgw_cpu)" 'BEGIN { print (b - a) / 100 }')"
  record "$rep" "first backup: PUTs" "$fmt" "$("$CV" cache stats --json --store "$store" | jq '."s3-requests".put // empty')"
  rm -rf "$WORK/restore"
  cold
  t0=$(now)
  "$CV" restore --store "$store" "$snap" "root.$fmt" "$WORK/restore" 2>/dev/null
  t1=$(now)
  record "$rep" "restore, warm cache" "$fmt" "$(elapsed "$t0" "$t1")"
  diff -r --no-dereference "$DATA" "$WORK/restore" >/dev/null ||
    { echo "the $fmt restore differs from the dataset" >&2; exit 1; }
  if [ "$fmt" = pxar ]; then
    local path
    for path in "" share/doc; do
      find "$store/.chunks" -type f -delete
      cold
      t0=$(now)
      "$CV" ls --json --store "$store" "$snap" root.pxar $path > "$WORK/ls.json"
      t1=$(now)
      record "$rep" "ls ${path:-/}, cold cache" pxar "$(elapsed "$t0" "$t1")"
      record "$rep" "ls ${path:-/}, cold cache: GETs" pxar "$(jq '."s3-requests".get' "$WORK/ls.json")"
    done
  fi
  rm -rf "$store" "$WORK/restore"
}

echo "dataset: $DATA, $DATA_BYTES bytes in $DATA_FILES files; $(nproc) cores" >&2
for rep in $(seq "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order=(pxar tar); else order=(tar pxar); fi
  for fmt in "${order[@]}"; do run "$fmt" "$rep"; done
  echo "repetition $rep of $REPS done" >&2
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
value() { awk -F'\t' -v s="$1" -v f="$2" '$2 == s && $3 == f { print $4 }' "$WORK/results.tsv" | median; }
echo "| step | tar | pxar | pxar/tar speed |"
echo "| --- | --- | --- | --- |"
for s in "first backup" "restore, warm cache"; do
  t=$(value "$s" tar)
  p=$(value "$s" pxar)
  printf '| %s | %.1f s | %.1f s | %.2fx |\n' "$s" "$t" "$p" "$(awk -v t="$t" -v p="$p" 'BEGIN { print t / p }')"
done
for s in "first backup: chunkvault CPU" "first backup: RGW CPU"; do
  printf '| %s | %.1f s | %.1f s | - |\n' "$s" "$(value "$s" tar)" "$(value "$s" pxar)"
done
for s in "ls /, cold cache" "ls share/doc, cold cache"; do
  printf '| %s | - | %.2f s, %s GETs | - |\n' "$s" "$(value "$s" pxar)" "$(value "$s: GETs" pxar)"
done
