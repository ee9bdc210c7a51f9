#!/usr/bin/env bash
# The backup pipeline, single core and whole, on the comparison's dataset:
#   1. chunk -> SHA-256 -> zstd-1 -> blob on one core (micro_bench, pinned
#      to CPU 0), each part alone, over all of the dataset's files (in
#      memory); the bound the parts allow is 1 / sum(1 / part speed);
#   2. five turns of: the four parts chained on one core, then a whole
#      backup into a new local datastore on every core and one on CPU 0
#      alone, the dataset in the page cache and the store in /dev/shm (so
#      that the disk does not set the pace: this measures how the work
#      spreads over the cores); the same, without the one-core backup, for
#      the dataset's files over 1 MiB, the pipeline run over all of them;
#      speeds are medians of the five, ratios medians of each turn's own;
#      the CPU time of each backup, and the share of it the pipeline's
#      work accounts for: the rest, per entry of the tree, is what reading
#      and storing the files costs beside the pipeline;
#   3. the primitives' single-core speeds beside PBS's published figures
#      and this machine's `openssl speed`, and the cost of a bare system
#      call, which much of that rest scales with.
# Prints markdown for docs/benchmarks.md.
#
# usage: bench/pipeline.sh [BUILD_DIR] [WORK_DIR]
#   BUILD_DIR  default build/release, built with -DCV_BUILD_BENCH=ON (make bench)
#   WORK_DIR   default /var/tmp/cv-compare (the dataset is shared with compare-restic)
set -euo pipefail

BUILD=${1:-build/release}
WORK=$(readlink -m "${2:-/var/tmp/cv-compare}")
HERE=$(cd "$(dirname "$0")/.." && pwd)
CV=$(readlink -f "$BUILD/src/chunkvault" || true)
BENCH=$BUILD/bench/micro_bench
DATA=$(readlink -m "${DATA:-$WORK/data}")
[ -x "$CV" ] && [ -x "$BENCH" ] || { echo "build with benchmarks first: make bench" >&2; exit 1; }
for tool in jq taskset openssl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
# shellcheck source=bench/dataset_lib.sh
. "$HERE/bench/dataset_lib.sh"
mkdir -p "$WORK"
make_dataset "$DATA"

median_of() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }'; }

# Every byte of the dataset, not a sample: the pipeline's speed depends on
# the data (zstd's most), and the whole backup reads all of it.
ALL_MIB=$((1 << 20))
DATA_ENTRIES=$(find "$DATA" | wc -l)

# 1. One core: the parts alone, for the bound (medians of 3 repetitions).
CV_PIPELINE_CORPUS=$DATA CV_PIPELINE_SAMPLE_MIB=$ALL_MIB taskset -c 0 "$BENCH" --benchmark_filter='^BM_Part' \
  --benchmark_min_time=2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=json 2>/dev/null > "$WORK/pipeline.json"
speed() { jq -r --arg n "$1_median" '.benchmarks[] | select(.name == $n) | .bytes_per_second' "$WORK/pipeline.json"; }
chunk=$(speed BM_PartChunk); sha=$(speed BM_PartSha256); zstd=$(speed BM_PartZstd1)
blob=$(speed BM_PartBlob)
ratio=$(jq -r '.benchmarks[] | select(.name == "BM_PartZstd1_median") | .ratio' "$WORK/pipeline.json")
bound=$(awk -v a="$chunk" -v b="$sha" -v c="$zstd" -v d="$blob" 'BEGIN { print 1 / (1/a + 1/b + 1/c + 1/d) }')

# 2. The chained pipeline on one core and the whole backup on every core,
# in turns: the speed of this (virtual) machine drifts by 10-40% over
# minutes, so each whole backup runs right after a pipeline run, and the
# ratio reported is the median of the five turns' own ratios. The whole
# backup has the tree in the page cache and the store in /dev/shm.
# Two trees: the dataset (tens of thousands of small files: the kernel's
# per-file work weighs in), with its whole backup also run on one core
# to show the scaling; and its files over 1 MiB, where the pipeline
# benchmark covers every byte the backup reads.
STORE=$WORK/pipeline-store
[ -d /dev/shm ] && STORE=/dev/shm/cv-pipeline-store
LARGE=$WORK/large
make_large_set "$DATA" "$LARGE"
tar cf - -C "$DATA" . | cat > /dev/null
tar cf - -C "$LARGE" . | cat > /dev/null

# pipeline_speed TREE SAMPLE_MIB JSON: bytes/s of the chained pipeline on CPU 0.
pipeline_speed() {
  CV_PIPELINE_CORPUS=$1 CV_PIPELINE_SAMPLE_MIB=$2 taskset -c 0 "$BENCH" \
    --benchmark_filter='^BM_Pipeline$' --benchmark_min_time=2 --benchmark_format=json \
    2>/dev/null > "$3"
  jq -r '.benchmarks[] | select(.name == "BM_Pipeline") | .bytes_per_second' "$3"
}
# whole_backup TREE [CPUS]: seconds of a backup of TREE into a new store,
# on every core or (CPUS) under taskset, and its CPU seconds (user +
# system, all threads): "wall cpu".
whole_backup() {
  rm -rf "$STORE"
  "$CV" init --store "$STORE" >/dev/null
  sync
  local TIMEFORMAT='%R %U %S'
  { time ${2:+taskset -c "$2"} "$CV" backup --store "$STORE" --backup-id pipeline "root.tar:$1" \
      >/dev/null 2>&1; } 2>"$WORK/time.txt"
  awk '{ print $1, $2 + $3 }' "$WORK/time.txt"
}

pipes=() times=() cpus=() times1=() cpus1=() lpipes=() ltimes=()
for i in 1 2 3 4 5; do
  pipes+=("$(pipeline_speed "$DATA" "$ALL_MIB" "$WORK/pipeline-$i.json")")
  read -r t c < <(whole_backup "$DATA")
  times+=("$t") cpus+=("$c")
  read -r t c < <(whole_backup "$DATA" 0)
  times1+=("$t") cpus1+=("$c")
  lpipes+=("$(pipeline_speed "$LARGE" "$ALL_MIB" "$WORK/pipeline-large-$i.json")")
  read -r t c < <(whole_backup "$LARGE")
  ltimes+=("$t")
done
rm -rf "$STORE"
median() { printf '%s\n' "$@" | median_of; }
rate() { awk -v b="$1" -v t="$2" 'BEGIN { print b / t }'; }  # BYTES SECONDS: bytes/s
pipe=$(median "${pipes[@]}")
whole=$(rate "$DATA_BYTES" "$(median "${times[@]}")")
whole1=$(rate "$DATA_BYTES" "$(median "${times1[@]}")")
lpipe=$(median "${lpipes[@]}")
lwhole=$(rate "$LARGE_BYTES" "$(median "${ltimes[@]}")")
# turn_ratio BYTES TIMES... -- PIPES...: median over turns of (BYTES / time) / pipe.
turn_ratio() {
  local bytes=$1 n i
  shift
  n=$(($# / 2))
  local t=("${@:1:n}") p=("${@:n+2}")
  for ((i = 0; i < n; i++)); do
    awk -v b="$bytes" -v t="${t[i]}" -v p="${p[i]}" 'BEGIN { print b / t / p }'
  done | median_of
}
mbs() { for v in "$@"; do printf '%s ' "$(mb "$v")"; done | sed 's/ $//'; }
secs() { printf '%.2f s, ' "$@" | sed 's/, $//'; }
speeds1=()
for t in "${times1[@]}"; do speeds1+=("$(rate "$DATA_BYTES" "$t")"); done
# Where a backup's CPU goes, per turn: the pipeline's share (the tree's
# bytes at the turn's pipeline speed, over the backup's CPU seconds) and
# the rest per entry in microseconds; the cores kept busy (CPU seconds
# over wall seconds). In each turn busy x share is its ratio to the
# pipeline, exactly.
# account WALL... -- CPU... -- PIPE...: "share rest_us busy", medians.
account() {
  local n=$(($# / 3)) i
  local w=("${@:1:n}") c=("${@:n+2:n}") p=("${@:2*n+3:n}") shares=() rests=() busy=()
  for ((i = 0; i < n; i++)); do
    shares+=("$(awk -v b="$DATA_BYTES" -v p="${p[i]}" -v c="${c[i]}" 'BEGIN { print b / p / c }')")
    rests+=("$(awk -v b="$DATA_BYTES" -v p="${p[i]}" -v c="${c[i]}" -v e="$DATA_ENTRIES" \
      'BEGIN { print (c - b / p) / e * 1e6 }')")
    busy+=("$(awk -v w="${w[i]}" -v c="${c[i]}" 'BEGIN { print c / w }')")
  done
  echo "$(median "${shares[@]}") $(median "${rests[@]}") $(median "${busy[@]}")"
}
read -r share rest busy < <(account "${times[@]}" -- "${cpus[@]}" -- "${pipes[@]}")
read -r share1 rest1 busy1 < <(account "${times1[@]}" -- "${cpus1[@]}" -- "${pipes[@]}")
pct() { awk -v f="$1" 'BEGIN { printf "%.0f%%", 100 * f }'; }
us() { awk -v u="$1" 'BEGIN { printf "%.0f us", u }'; }

# 3. Primitives, one core.
taskset -c 0 "$BENCH" --benchmark_filter='^BM_(Sha256|Crc32|Zstd1|Buzhash|SystemCall)' --benchmark_min_time=1 \
  --benchmark_format=json 2>/dev/null > "$WORK/primitives.json"
prim() { jq -r --arg n "$1" '.benchmarks[] | select(.name == $n) | .bytes_per_second' "$WORK/primitives.json"; }
ossl=$(taskset -c 0 openssl speed -evp sha256 -bytes 16384 -seconds 3 2>/dev/null | awk '/^sha256/ { sub("k", "", $NF); print $NF * 1000 }')

cat <<EOF
Single core (CPU 0), all of the dataset ($(gib "$DATA_BYTES"), $DATA_FILES files, $DATA_ENTRIES entries), zstd-1 ratio $(printf '%.2f' "$ratio"):

| part | MB/s |
|---|---|
| buzhash chunker (4 MiB average) | $(mb "$chunk") |
| SHA-256 | $(mb "$sha") |
| zstd level 1 | $(mb "$zstd") |
| blob (CRC-32 of the compressed chunk, header) | $(mb "$blob") |
| **bound: 1 / sum(1 / speed)** | **$(mb "$bound")** |
| **pipeline: the four chained** (median of $(mbs "${pipes[@]}")) | **$(mb "$pipe")** ($(awk -v a="$pipe" -v b="$bound" 'BEGIN { printf "%.0f%%", 100 * a / b }') of the bound) |
| whole backup, $(nproc) cores, tree cached, store in $(dirname "$STORE") (median of $(secs "${times[@]}")) | $(mb "$whole") (**$(printf '%.2f' "$(turn_ratio "$DATA_BYTES" "${times[@]}" -- "${pipes[@]}")")x** the single-core pipeline) |
| whole backup, CPU 0 alone (median of $(secs "${times1[@]}")) | $(mb "$whole1") ($(nproc) cores: $(printf '%.2f' "$(turn_ratio "$DATA_BYTES" "${times[@]}" -- "${speeds1[@]}")")x) |

Where the whole backups' CPU went (user + system, every thread; medians
of the turns): the pipeline's work is the tree's bytes at the turn's
pipeline speed, the rest is per entry of the tree; in each turn, cores
busy x the pipeline's share is that turn's ratio to the pipeline.

| backup | CPU (median of) | pipeline's share | rest per entry | cores busy |
|---|---|---|---|---|
| $(nproc) cores | $(secs "${cpus[@]}") | $(pct "$share") | $(us "$rest") | $(printf '%.2f' "$busy") |
| CPU 0 alone | $(secs "${cpus1[@]}") | $(pct "$share1") | $(us "$rest1") | $(printf '%.2f' "$busy1") |

The files over 1 MiB of the dataset ($(gib "$LARGE_BYTES"), $LARGE_FILES files), the
pipeline over all of them:

| run | MB/s |
|---|---|
| pipeline: the four chained, CPU 0 (median of $(mbs "${lpipes[@]}")) | $(mb "$lpipe") |
| whole backup, $(nproc) cores (median of $(secs "${ltimes[@]}")) | $(mb "$lwhole") (**$(printf '%.2f' "$(turn_ratio "$LARGE_BYTES" "${ltimes[@]}" -- "${lpipes[@]}")")x** the single-core pipeline) |

Primitives on one core (MB/s = 10^6 bytes/s), PBS's published figures
(Ryzen 7 2700X, \`proxmox-backup-client benchmark\`) beside them:

| primitive | this machine | PBS reference |
|---|---|---|
| SHA-256 (\`Sha256Of\`, 4 MiB) | $(mb "$(prim BM_Sha256)") | 2022 |
| SHA-256, \`openssl speed -evp sha256 -bytes 16384\` | $(mb "$ossl") | |
| CRC-32 | $(mb "$(prim BM_Crc32)") | |
| zstd-1 compress + CRC (\`EncodeBlob\`), text / binaries | $(mb "$(prim BM_Zstd1Compress/binary:0)") / $(mb "$(prim BM_Zstd1Compress/binary:1)") | 752 |
| zstd-1 decompress, text / binaries | $(mb "$(prim BM_Zstd1Decompress/binary:0)") / $(mb "$(prim BM_Zstd1Decompress/binary:1)") | 1198 |
| blob decode + verify (CRC, zstd, SHA-256: \`DecodeChunk\`), text / binaries | $(mb "$(prim BM_Zstd1DecompressAndCheck/binary:0)") / $(mb "$(prim BM_Zstd1DecompressAndCheck/binary:1)") | 758 |
| buzhash chunker, 64 KiB / 4 MiB average | $(mb "$(prim BM_Buzhash/65536)") / $(mb "$(prim BM_Buzhash/4194304)") | |

A bare system call (\`syscall(SYS_getppid)\`) on CPU 0: $(jq -r '.benchmarks[] | select(.name == "BM_SystemCall") | .cpu_time' "$WORK/primitives.json" | awk '{ printf "%.2f us", $1 / 1000 }').
EOF
