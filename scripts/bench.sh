#!/usr/bin/env bash
# Runs every benchmark: the single-core primitives and whole backups.
# usage: scripts/bench.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build/release}
"$BUILD/bench/micro_bench" --benchmark_min_time=1
bench/backup_restore.sh "$BUILD"
bench/s3_backup_restore.sh "$BUILD"
bench/s3_cache.sh "$BUILD"
"$BUILD/bench/cache_replay"
