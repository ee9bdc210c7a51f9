#!/usr/bin/env bash
# The backup pipeline, single core and whole, on the comparison's dataset:
#   1. chunk -> SHA-256 -> zstd-1 -> blob on one core (micro_bench, pinned
#      to CPU 0), each part alone, on a ~128 MiB sample of the dataset; the
#      bound the parts allow is 1 / sum(1 / part speed);
#   2. three turns of: the four parts chained on one core, then a whole
#      backup into a new local datastore on every core, the dataset in the
#      page cache and the store in /dev/shm (so that the disk does not set
#      the pace: this measures how the work spreads over the cores);
#      medians of 3;
#   3. the primitives' single-core speeds beside PBS's published figures
#      and this machine's `openssl speed`.
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

# 1. One core: the parts alone, for the bound (medians of 3 repetitions).
CV_PIPELINE_CORPUS=$DATA taskset -c 0 "$BENCH" --benchmark_filter='^BM_Part' \
  --benchmark_min_time=2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=json 2>/dev/null > "$WORK/pipeline.json"
speed() { jq -r --arg n "$1_median" '.benchmarks[] | select(.name == $n) | .bytes_per_second' "$WORK/pipeline.json"; }
chunk=$(speed BM_PartChunk); sha=$(speed BM_PartSha256); zstd=$(speed BM_PartZstd1)
blob=$(speed BM_PartBlob)
ratio=$(jq -r '.benchmarks[] | select(.name == "BM_PartZstd1_median") | .ratio' "$WORK/pipeline.json")
bound=$(awk -v a="$chunk" -v b="$sha" -v c="$zstd" -v d="$blob" 'BEGIN { print 1 / (1/a + 1/b + 1/c + 1/d) }')

# 2. The chained pipeline on one core and the whole backup on every core,
# in turns: the speed of this (virtual) machine drifts by 10-20% over
# minutes, so each whole backup runs right after a pipeline run and the
# ratio is taken between medians of the same stretch of time. The whole
# backup has the dataset in the page cache and the store in /dev/shm.
STORE=$WORK/pipeline-store
[ -d /dev/shm ] && STORE=/dev/shm/cv-pipeline-store
tar cf - -C "$DATA" . | cat > /dev/null
pipes=()
times=()
for i in 1 2 3; do
  CV_PIPELINE_CORPUS=$DATA taskset -c 0 "$BENCH" --benchmark_filter='^BM_Pipeline$' \
    --benchmark_min_time=2 --benchmark_format=json 2>/dev/null > "$WORK/pipeline-$i.json"
  pipes+=("$(jq -r '.benchmarks[] | select(.name == "BM_Pipeline") | .bytes_per_second' "$WORK/pipeline-$i.json")")
  rm -rf "$STORE"
  "$CV" init --store "$STORE" >/dev/null
  sync
  t0=$(date +%s.%N)
  "$CV" backup --store "$STORE" --backup-id pipeline "root.tar:$DATA" >/dev/null 2>&1
  t1=$(date +%s.%N)
  times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
done
rm -rf "$STORE"
pipe=$(printf '%s\n' "${pipes[@]}" | median_of)
whole_t=$(printf '%s\n' "${times[@]}" | median_of)
whole=$(awk -v b="$DATA_BYTES" -v t="$whole_t" 'BEGIN { print b / t }')

# 3. Primitives, one core.
taskset -c 0 "$BENCH" --benchmark_filter='^BM_(Sha256|Crc32|Zstd1|Buzhash)' --benchmark_min_time=1 \
  --benchmark_format=json 2>/dev/null > "$WORK/primitives.json"
prim() { jq -r --arg n "$1" '.benchmarks[] | select(.name == $n) | .bytes_per_second' "$WORK/primitives.json"; }
ossl=$(taskset -c 0 openssl speed -evp sha256 -bytes 16384 -seconds 3 2>/dev/null | awk '/^sha256/ { sub("k", "", $NF); print $NF * 1000 }')

cat <<EOF
Single core (CPU 0), a sample of the dataset ($(gib "$DATA_BYTES"), $DATA_FILES files), zstd-1 ratio $(printf '%.2f' "$ratio"):

| part | MB/s |
|---|---|
| buzhash chunker (4 MiB average) | $(mb "$chunk") |
| SHA-256 | $(mb "$sha") |
| zstd level 1 | $(mb "$zstd") |
| blob (CRC-32 of the compressed chunk, header) | $(mb "$blob") |
| **bound: 1 / sum(1 / speed)** | **$(mb "$bound")** |
| **pipeline: the four chained** (median of $(for p in "${pipes[@]}"; do printf '%s ' "$(mb "$p")"; done| sed 's/ $//')) | **$(mb "$pipe")** ($(awk -v a="$pipe" -v b="$bound" 'BEGIN { printf "%.0f%%", 100 * a / b }') of the bound) |
| whole backup, $(nproc) cores, dataset cached, store in $(dirname "$STORE") (median of 3: $(printf '%.2f s ' "${times[@]}")) | $(mb "$whole") ($(awk -v a="$whole" -v b="$pipe" 'BEGIN { printf "%.2f", a / b }')x the single-core pipeline) |

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
EOF
