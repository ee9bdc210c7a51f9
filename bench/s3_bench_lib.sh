# Shared by the S3 benchmarks; sourced once CV (the binary), HERE (the
# source tree) and WORK (a scratch directory) are set. Starts the
# project's Ceph RGW under $WORK/rgw (stopped on exit), exports its keys,
# warms it up (its first writes create its data pools, which would be
# charged to whichever run came first), and defines:
#   cold                 write back and drop the page cache (when allowed)
#   s3_init STORE NAME   a fresh S3-backed store, prefix NAME-<random>

OSD_SIZE_GB=20 "$HERE/scripts/s3-test-server.sh" start "$WORK/rgw" >/dev/null
trap '"$HERE/scripts/s3-test-server.sh" stop "$WORK/rgw" >/dev/null' EXIT
# shellcheck disable=SC1091
. "$WORK/rgw/s3.env"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY

# Twice: a loop-mounted filesystem's flush dirties its image file, which
# the second sync writes out.
cold() { sync; sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

s3_init() {
  rm -rf "$1"
  "$CV" init --store "$1" --name "$2-$RANDOM" --s3-endpoint "$S3_ENDPOINT" \
    --s3-bucket "$S3_BUCKET" --s3-path-style >/dev/null
}

s3_init "$WORK/s3-warmup" warmup
"$CV" backup --store "$WORK/s3-warmup" --chunk-size 64K "root.tar:$HERE/src" >/dev/null 2>&1
rm -rf "$WORK/s3-warmup"
