#!/usr/bin/env bash
# chunkvaultd against the direct CLI, into S3-backed datastores on a local
# Ceph RGW (started here), in one run:
#   1. backup and restore of CORPUS, direct (--store) and through chunkvaultd
#      on 127.0.0.1 (--repository: TLS, HTTP/2, PBS's protocol), alternating
#      REPS times; restores with the cache emptied and with it warm;
#   2. 16 clients backing up 16 different trees (CORPUS's files dealt out
#      to 16 directories) into one datastore at once, against one client
#      backing up one of them alone; the server's peak RSS (VmHWM);
#   3. the seed's cache table through the server: a --no-cache backup (PBS's
#      no-cache=true), a backup into an empty cache, one with everything
#      cached, restores with the cache emptied and warm, with the S3
#      requests the server counted (GET /metrics).
# Prints markdown tables for docs/benchmarks.md.
#
# usage: bench/server.sh [BUILD_DIR] [WORK_DIR]
#   CORPUS   directory to back up (default: WORK_DIR/corpus-server, a copy
#            of /usr/share)
#   REPS     repetitions of part 1 (default 2)
#   PARTS    which parts to run (default "1 2 3")
#   CLIENT_JOBS  --jobs of the client's backups through the server in part 1
#            (default: the client's own, 8 on two cores)
# Part 1 also prints the CPU seconds each backup took: the client's
# (/usr/bin/time), the server's and the whole machine's (/proc).
set -euo pipefail

BUILD=${1:-build/release}
WORK=$(readlink -m "${2:-/var/tmp/cv-bench}")
CV=$(readlink -f "$BUILD/src/chunkvault")
CVD=$(readlink -f "$BUILD/src/chunkvaultd")
HERE=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-2}
PARTS=${PARTS:-"1 2 3"}
part() { [[ " $PARTS " == *" $1 "* ]]; }
mkdir -p "$WORK"

CORPUS=${CORPUS:-$WORK/corpus-server}
if [ ! -f "$CORPUS.complete" ]; then
  rm -rf "$CORPUS"
  cp -a /usr/share "$CORPUS"
  touch "$CORPUS.complete"
fi
bytes=$(du -sb --apparent-size "$CORPUS" | cut -f1)

# shellcheck source=bench/s3_bench_lib.sh
. "$HERE/bench/s3_bench_lib.sh"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mibs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

# The server: its configuration, a token, and start/stop around phases
# that need the cache to themselves.
ETC=$WORK/server-etc
rm -rf "$ETC"
export CHUNKVAULT_PASSWORD=bench-password
"$CVD" user add root@pam --config-dir "$ETC" >/dev/null
SECRET=$("$CVD" token add 'root@pam!bench' --json --config-dir "$ETC" | jq -r .value)
for who in root@pam 'root@pam!bench'; do  # GET /metrics wants audit on /datastore
  "$CVD" acl set /datastore audit --auth-id "$who" --config-dir "$ETC" >/dev/null
done
server_pid=""
start_server() {
  "$CVD" --config-dir "$ETC" --listen 127.0.0.1:0 >"$WORK/server.out" 2>>"$WORK/server.log" &
  server_pid=$!
  until grep -q "listening on" "$WORK/server.out" 2>/dev/null; do
    kill -0 "$server_pid" || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
  done
  PORT=$(sed -n 's/.* port \([0-9]*\),.*/\1/p' "$WORK/server.out")
  export CHUNKVAULT_FINGERPRINT
  CHUNKVAULT_FINGERPRINT=$(sed -n 's/.*fingerprint \([0-9a-f:]*\).*/\1/p' "$WORK/server.out")
}
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}
peak_rss() { awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$server_pid/status"; }
trap 'stop_server; "$HERE/scripts/s3-test-server.sh" stop "$WORK/rgw" >/dev/null' EXIT
add_store() {  # NAME PATH: a fresh S3 store the server serves
  s3_init "$2" "$1"
  "$CVD" datastore add "$1" "$2" --config-dir "$ETC" >/dev/null
  "$CVD" acl set "/datastore/$1" admin --auth-id root@pam --config-dir "$ETC" >/dev/null
  "$CVD" acl set "/datastore/$1" admin --auth-id 'root@pam!bench' --config-dir "$ETC" >/dev/null
}
repo() { echo "root@pam!bench@127.0.0.1:$PORT:$1"; }
remote() { CHUNKVAULT_PASSWORD=$SECRET "$CV" "$@"; }
s3_counts() {  # STORE: "get put head" as the server counted them so far
  curl -sk -H "Authorization: PBSAPIToken root@pam!bench:$SECRET" "https://127.0.0.1:$PORT/metrics" |
    awk -v s="$1" '$0 ~ "store=\""s"\"" && /chunkvault_s3_requests_total/ {
        if ($0 ~ /kind="get"/) g = $NF; if ($0 ~ /kind="put"/) p = $NF; if ($0 ~ /kind="head"/) h = $NF }
      END { printf "%d %d %d", g, p, h }'
}

echo "corpus: $(awk -v b="$bytes" 'BEGIN{printf "%.2f GiB", b/2^30}') ($CORPUS), $(nproc) cores"
echo

# 1. Direct against through the server.
if part 1; then
# CPU seconds: the client's (time), the server's and the whole machine's
# (/proc, clock ticks of 1/100 s).
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
server_cpu() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
cs() { awk -v t="$1" 'BEGIN { printf "%.1f", t / 100 }'; }
cpu_rows=()
echo "| rep | direct backup | server backup | direct restore, cache emptied | server restore, cache emptied | direct restore, warm | server restore, warm |"
echo "|---|---|---|---|---|---|---|"
for rep in $(seq "$REPS"); do
  direct=$WORK/direct-$rep served=$WORK/served-$rep
  s3_init "$direct" "direct$rep"
  add_store "served$rep" "$served"
  start_server
  cold; t0=$(now); m0=$(busy)
  snap=$(/usr/bin/time -f "%U %S" -o "$WORK/cpu" "$CV" backup --store "$direct" --backup-id bench "root.tar:$CORPUS" 2>/dev/null)
  db=$(elapsed "$t0" "$(now)"); dm=$(( $(busy) - m0 )); dc=$(awk '{ print $1 + $2 }' "$WORK/cpu")
  cold; t0=$(now); m0=$(busy); s0=$(server_cpu)
  rsnap=$(CHUNKVAULT_PASSWORD=$SECRET /usr/bin/time -f "%U %S" -o "$WORK/cpu" "$CV" backup ${CLIENT_JOBS:+--jobs "$CLIENT_JOBS"} --repository "$(repo "served$rep")" --backup-id bench "root.tar:$CORPUS" 2>/dev/null)
  sb=$(elapsed "$t0" "$(now)"); sm=$(( $(busy) - m0 )); ss=$(( $(server_cpu) - s0 ))
  sc=$(awk '{ print $1 + $2 }' "$WORK/cpu")
  cpu_rows+=("| $rep | $db s: client $dc s, machine $(cs "$dm") s | $sb s: client $sc s, server $(cs "$ss") s, machine $(cs "$sm") s |")
  stop_server
  find "$direct/.chunks" "$served/.chunks" -type f -delete
  start_server
  row=()
  for warmth in emptied warm; do
    rm -rf "$WORK/out-d" "$WORK/out-s"
    cold; t0=$(now)
    "$CV" restore --store "$direct" "$snap" root.tar "$WORK/out-d" 2>/dev/null
    row+=("$(elapsed "$t0" "$(now)")")
    cold; t0=$(now)
    remote restore --repository "$(repo "served$rep")" "$rsnap" root.tar "$WORK/out-s" 2>/dev/null
    row+=("$(elapsed "$t0" "$(now)")")
    diff -r --no-dereference "$CORPUS" "$WORK/out-s" >/dev/null || { echo "restore differs!" >&2; exit 1; }
  done
  stop_server
  printf '| %s | %s s, %s MiB/s | %s s, %s MiB/s | %s s, %s MiB/s | %s s, %s MiB/s | %s s, %s MiB/s | %s s, %s MiB/s |\n' \
    "$rep" "$db" "$(mibs "$bytes" "$db")" "$sb" "$(mibs "$bytes" "$sb")" \
    "${row[0]}" "$(mibs "$bytes" "${row[0]}")" "${row[1]}" "$(mibs "$bytes" "${row[1]}")" \
    "${row[2]}" "$(mibs "$bytes" "${row[2]}")" "${row[3]}" "$(mibs "$bytes" "${row[3]}")"
  rm -rf "$direct" "$served" "$WORK/out-d" "$WORK/out-s"
done
echo
echo "| rep | direct backup: time, CPU seconds | server backup: time, CPU seconds |"
echo "|---|---|---|"
printf '%s\n' "${cpu_rows[@]}"
echo
fi

# 2. Sixteen clients, sixteen trees, one datastore.
if part 2; then
TREES=$WORK/trees16
if [ ! -f "$TREES.complete" ]; then
  rm -rf "$TREES"
  (cd "$CORPUS" && find . -type f -print0) | awk -v RS='\0' -v ORS='\0' '{ print NR % 16 "\t" $0 }' |
    while IFS=$'\t' read -r -d '' n path; do
      mkdir -p "$TREES/$n/$(dirname "$path")"
      ln "$CORPUS/$path" "$TREES/$n/$path"
    done
  touch "$TREES.complete"
fi
add_store one "$WORK/one"
add_store many "$WORK/many"
start_server
one_bytes=$(du -sb --apparent-size "$TREES/0" | cut -f1)
t0=$(now)
remote backup --repository "$(repo one)" --backup-id tree0 "root.tar:$TREES/0" >/dev/null 2>&1
one=$(elapsed "$t0" "$(now)")
all_bytes=$(du -sb --apparent-size "$TREES" | cut -f1)
t0=$(now)
pids=()
for n in $(seq 0 15); do
  remote backup --repository "$(repo many)" --backup-id "tree$n" "root.tar:$TREES/$n" >/dev/null 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
many=$(elapsed "$t0" "$(now)")
rss=$(peak_rss)
verified=$(remote verify --repository "$(repo many)" 2>&1 | tail -1)
stop_server
echo "| run | data | time | rate | server peak RSS |"
echo "|---|---|---|---|---|"
printf '| one client, one tree | %s MiB | %s s | %s MiB/s | |\n' "$((one_bytes >> 20))" "$one" "$(mibs "$one_bytes" "$one")"
printf '| 16 clients at once, 16 trees (%d failed) | %s MiB | %s s | %s MiB/s | %s |\n' "$failed" \
  "$((all_bytes >> 20))" "$many" "$(mibs "$all_bytes" "$many")" "$rss"
echo
echo "verify of the 16 snapshots through the server: $verified"
rm -rf "$WORK/one" "$WORK/many"
echo
fi

# 3. The cache table through the server.
part 3 || exit 0
add_store cachenone "$WORK/cache-none"
add_store cache "$WORK/cache"
start_server
echo "| run through chunkvaultd | time | rate | GET | PUT | HEAD |"
echo "|---|---|---|---|---|---|"
cache_row() {  # LABEL STORE, then the client's command
  local label=$1 store=$2 before after t0 t
  shift 2
  before=$(s3_counts "$store")
  cold; t0=$(now)
  remote "$@" >"$WORK/row.out" 2>/dev/null
  t=$(elapsed "$t0" "$(now)")
  after=$(s3_counts "$store")
  read -r g0 p0 h0 <<<"$before"
  read -r g1 p1 h1 <<<"$after"
  printf '| %s | %s s | %s MiB/s | %d | %d | %d |\n' "$label" "$t" "$(mibs "$bytes" "$t")" \
    $((g1 - g0)) $((p1 - p0)) $((h1 - h0))
}
cache_row "backup, no cache (\`--no-cache\`)" cachenone \
  backup --no-cache --repository "$(repo cachenone)" --backup-id bench "root.tar:$CORPUS"
cache_row "backup, empty cache" cache backup --repository "$(repo cache)" --backup-id bench "root.tar:$CORPUS"
cache_row "backup, everything cached" cache backup --repository "$(repo cache)" --backup-id bench "root.tar:$CORPUS"
snap=$(cat "$WORK/row.out")
stop_server
find "$WORK/cache/.chunks" -type f -delete
start_server
rm -rf "$WORK/out-c"
cache_row "restore, cache emptied" cache restore --repository "$(repo cache)" "$snap" root.tar "$WORK/out-c"
rm -rf "$WORK/out-c"
cache_row "restore, everything cached" cache restore --repository "$(repo cache)" "$snap" root.tar "$WORK/out-c"
stop_server
rm -rf "$WORK/out-c" "$WORK/cache" "$WORK/cache-none"
