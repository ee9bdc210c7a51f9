#!/usr/bin/env bash
# The main job on a local default: back up a sample directory into a fresh
# datastore as PBS's pxar, back it up again (nothing new is stored), list
# the snapshots and the archive's root, restore, verify, and show that the
# restored tree is identical to the original.
#
# usage: scripts/demo.sh [PATH-TO-chunkvault]
#   DEMO_SOURCE  directory to back up (default: /usr/share/doc)
#   DEMO_DIR     working directory (default: ./demo-work, replaced)
set -euo pipefail

CV=$(readlink -f "${1:-build/release/src/chunkvault}")
SRC=${DEMO_SOURCE:-/usr/share/doc}
WORK=$(readlink -m "${DEMO_DIR:-demo-work}")
export CHUNKVAULT_STORE=$WORK/store

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

rm -rf "$WORK"
mkdir -p "$WORK"

step "create a datastore (PBS layout: .chunks/0000..ffff)"
run "$CV" init --store "$CHUNKVAULT_STORE"

step "back up $SRC"
SNAP=$("$CV" backup --backup-id demo "root.pxar:$SRC")
echo "snapshot: $SNAP"

step "back it up again: unchanged data, so no new chunks"
run "$CV" backup --backup-id demo "root.pxar:$SRC"

step "list snapshots"
run "$CV" snapshots

step "list the archive's root, reading only its metadata"
printf '$ %s\n' "$CV ls $SNAP root.pxar"
"$CV" ls "$SNAP" root.pxar > "$WORK/ls.txt"
head -n 5 "$WORK/ls.txt"
echo "... $(wc -l < "$WORK/ls.txt") entries"

step "restore $SNAP"
run "$CV" restore "$SNAP" root.pxar "$WORK/restore"

step "verify every chunk of every snapshot"
run "$CV" verify

step "compare the restored tree with $SRC"
# A directory's own size is the filesystem's business (ext4 never shrinks
# one), so it is left out; everything a backup must keep is in.
listing() {
  (cd "$1" && find . \( -type d -printf '%y %M %U:%G - %T@ %p\n' \) -o \
                      -printf '%y %M %U:%G %s %T@ %p -> %l\n' | LC_ALL=C sort -k6)
}
if diff -r --no-dereference "$SRC" "$WORK/restore" >/dev/null &&
   diff <(listing "$SRC") <(listing "$WORK/restore") >/dev/null; then
  echo "identical: $(listing "$SRC" | wc -l) entries with the same contents, types, modes, owners, sizes, mtimes and link targets"
else
  echo "the restored tree differs from $SRC:" >&2
  diff <(listing "$SRC") <(listing "$WORK/restore") | head -20 >&2
  exit 1
fi
