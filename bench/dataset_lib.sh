# The dataset of the comparison and pipeline benchmarks; sourced.
#
#   make_dataset DIR   copies real files of several kinds (documentation,
#                      locale data, shared libraries, headers) from /usr
#                      into DIR until it holds at least 2 GiB, once: a
#                      complete copy is marked by DIR.complete and reused.
# Sets DATA_BYTES (apparent size) and DATA_FILES (regular files).
#
#   make_large_set DIR OUT  copies the files of DIR larger than 1 MiB into
#                      OUT (same relative paths, hard links kept), once
#                      (OUT.complete): the same kind of data without the
#                      per-file work of tens of thousands of small files.
# Sets LARGE_BYTES and LARGE_FILES.

make_dataset() {
  local dir=$1 min=$((2 << 30))
  if [ ! -f "$dir.complete" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    for d in /usr/share /usr/lib/x86_64-linux-gnu /usr/include /usr/lib/gcc /usr/lib/python3 \
             /usr/lib/jvm /usr/lib/llvm-14; do
      [ "$(du -sb --apparent-size "$dir" | cut -f1)" -ge $((min + (128 << 20))) ] && break
      [ -d "$d" ] && cp -a "$d" "$dir/$(echo "${d#/usr/}" | tr / _)"
    done
    touch "$dir.complete"
  fi
  DATA_BYTES=$(du -sb --apparent-size "$dir" | cut -f1)
  DATA_FILES=$(find "$dir" -type f | wc -l)
  [ "$DATA_BYTES" -ge "$min" ] || { echo "dataset $dir holds only $DATA_BYTES bytes (2 GiB needed)" >&2; return 1; }
}

make_large_set() {
  local dir=$1 out=$2
  if [ ! -f "$out.complete" ]; then
    rm -rf "$out"
    mkdir -p "$out"
    (cd "$dir" && find . -type f -size +1M -print0 | tar --null -cf - -T -) | tar -xf - -C "$out"
    touch "$out.complete"
  fi
  LARGE_BYTES=$(du -sb --apparent-size "$out" | cut -f1)
  LARGE_FILES=$(find "$out" -type f | wc -l)
}

# GiB with two decimals.
gib() { awk -v b="$1" 'BEGIN { printf "%.2f GiB", b / 2^30 }'; }
