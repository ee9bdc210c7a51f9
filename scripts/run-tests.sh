#!/usr/bin/env bash
# `make test`'s runner: CTest over the test build, in a temporary root of
# its own, then a check that every test removed what it made there, so
# that a test leaking its directories fails instead of filling /dev/shm
# run after run.
#
# usage: scripts/run-tests.sh BUILD_DIR [JOBS] [CTEST_ARGS...]
#
# The root is a fresh directory on /dev/shm (tmpfs: a store's 65536 chunk
# directories are made in a fraction of the time ext4 takes), else under
# $TMPDIR or /tmp; the tests find it through $CV_TEST_TMPDIR. It is
# removed at the end, whatever the outcome.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR [JOBS] [CTEST_ARGS...]}
JOBS=${2:-$(nproc)}
shift $(($# < 2 ? $# : 2))

base=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
root=$(mktemp -d "$base/cvtests-XXXXXX")
# Like /dev/shm and /tmp themselves: some tests drop to user "nobody".
chmod 1777 "$root"
trap 'rm -rf -- "$root"' EXIT

rc=0
CV_TEST_TMPDIR=$root ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" "$@" || rc=$?

left=$(find "$root" -mindepth 1 -maxdepth 3 | sed "s|^$root/||" | sort | head -20)
if [ -n "$left" ]; then
  echo "tests left files in their temporary root $root (removed now), first ones:" >&2
  printf '  %s\n' $left >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
