#!/usr/bin/env bash
# A throw-away S3 server for tests and benchmarks: a one-node Ceph cluster
# (one mon, one memstore OSD, no mgr, no cephx) and a RADOS Gateway on
# 127.0.0.1, all under DIR, started without systemd in about a second.
#
# usage: scripts/s3-test-server.sh start DIR   prints the endpoint; writes DIR/s3.env
#        scripts/s3-test-server.sh stop DIR    kills what start started (pid files)
#
# DIR/s3.env holds S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET and
# S3_REGION for the tests. Ports are picked free at start, so several
# servers (parallel CI jobs) can run side by side.
#
# Needs root and Debian 12's ceph-mon, ceph-osd, radosgw, ceph-common, curl
# (scripts/install-deps.sh installs them).
#
# Knobs: OSD_SIZE_GB (default 16: memstore capacity, held in RAM as used),
# S3_BUCKET (default "test"; empty: none).
set -euo pipefail

ACTION=${1:?usage: $0 start|stop DIR}
DIR=$(readlink -m "${2:?usage: $0 start|stop DIR}")
OSD_SIZE_GB=${OSD_SIZE_GB:-16}
S3_ACCESS_KEY=TESTACCESSKEY0000001
S3_SECRET_KEY=testsecretkey0000000000000000000000000001
S3_BUCKET=${S3_BUCKET-test}
CONF=$DIR/ceph.conf

stop_all() {
  # Throw-away cluster: SIGKILL. A graceful stop takes seconds per daemon,
  # and an OSD whose mon is gone can hang in shutdown.
  local p pids=()
  for p in rgw osd mon; do
    [ -f "$DIR/run/$p.pid" ] && pids+=("$(cat "$DIR/run/$p.pid")")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  kill -9 "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DIR"/run/{rgw,osd,mon}.pid
}

if [ "$ACTION" = stop ]; then
  stop_all
  echo "s3-test-server: stopped ($DIR)"
  exit 0
fi
[ "$ACTION" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
  command -v "$tool" >/dev/null || { echo "s3-test-server: $tool is missing (run scripts/install-deps.sh)" >&2; exit 1; }
done

# A port nobody listens on (bash's /dev/tcp: connection refused = free).
taken=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    case "$taken" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      taken+="$p "
      echo "$p"
      return 0
    fi
  done
  echo "s3-test-server: no free port found" >&2
  return 1
}
MON_PORT=$(free_port)
MON_PORT2=$(free_port)
RGW_PORT=$(free_port)

# Waits up to $1 seconds for a command to succeed, polling every 0.1 s.
wait_for() {
  local n=$(($1 * 10)) what=$2
  shift 2
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "s3-test-server: timed out waiting for $what; logs in $DIR/log" >&2
  tail -n 20 "$DIR"/log/*.log >&2 || true
  exit 1
}

stop_all 2>/dev/null || true
rm -rf "$DIR"
mkdir -p "$DIR"/{mon,osd/ceph-0,rgw,run,log}
FSID=$(cat /proc/sys/kernel/random/uuid)

cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon initial members = a
mon host = [v2:127.0.0.1:$MON_PORT2,v1:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
# no cephx: nothing leaves loopback
auth cluster required = none
auth service required = none
auth client required = none
# one OSD: replicate once, place replicas per OSD
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
# commit map changes (pool creation by rgw) at once, not batched per second
paxos propose interval = 0.01
paxos min wait = 0.01
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
log to stderr = false
err to stderr = true
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
keyring = /dev/null

[mon]
mon data = $DIR/mon/\$cluster-\$id

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $((OSD_SIZE_GB * 1024 * 1024 * 1024))
osd crush update on start = true
osd op num shards = 2
osd op num threads per shard = 2

[client.rgw.a]
# radosgw asks for "secure" mon connections, which need cephx
ms mon client mode = crc secure
# without tcp_nodelay small GETs stall ~40 ms (Nagle + delayed ACK)
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $DIR/rgw
rgw dns name = localhost
rgw enable usage log = false
log file = $DIR/log/rgw.log
EOF

CEPH="ceph -c $CONF --connect-timeout 10"

monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT2,v1:127.0.0.1:$MON_PORT]" \
  "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" 2>"$DIR/log/mon-mkfs.err"
ceph-mon -c "$CONF" -i a -f >"$DIR/log/mon.out" 2>&1 &
echo $! > "$DIR/run/mon.pid"
wait_for 30 "the monitor" $CEPH mon stat

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$($CEPH osd new "$OSD_UUID")
[ "$OSD_ID" = 0 ] || { echo "s3-test-server: unexpected osd id $OSD_ID" >&2; exit 1; }
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd-mkfs.out" 2>&1
ceph-osd -c "$CONF" -i 0 -f >"$DIR/log/osd.out" 2>&1 &
echo $! > "$DIR/run/osd.pid"
wait_for 60 "the OSD" sh -c "$CEPH osd dump | grep -q '^osd.0 up'"

radosgw -c "$CONF" -n client.rgw.a -f >"$DIR/log/rgw.out" 2>&1 &
echo $! > "$DIR/run/rgw.pid"
wait_for 120 "the gateway" curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"

radosgw-admin -c "$CONF" -n client.rgw.a user create --uid=test --display-name=test \
  --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" \
  >"$DIR/log/user.json" 2>"$DIR/log/radosgw-admin.err"

if [ -n "$S3_BUCKET" ]; then
  code=$(curl -sS -o "$DIR/log/mkbucket.out" -w '%{http_code}' -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:$RGW_PORT/$S3_BUCKET")
  [ "$code" = 200 ] || { echo "s3-test-server: creating bucket $S3_BUCKET failed: $code" >&2; exit 1; }
fi

cat > "$DIR/s3.env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
S3_ACCESS_KEY=$S3_ACCESS_KEY
S3_SECRET_KEY=$S3_SECRET_KEY
S3_BUCKET=$S3_BUCKET
S3_REGION=us-east-1
EOF
echo "s3-test-server: ready at http://127.0.0.1:$RGW_PORT (bucket '$S3_BUCKET'; $DIR/s3.env)"
