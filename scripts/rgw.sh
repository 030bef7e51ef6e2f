#!/usr/bin/env bash
# A throwaway one-node Ceph cluster (one mon, one memstore osd, the radosgw S3 gateway)
# on free loopback ports, for the S3 tests and for manual runs and benchmarks.
#
#   scripts/rgw.sh start DIR [--watch-stdin]   start it in DIR (created; must be empty);
#                                              prints the AWS_* environment to use
#   scripts/rgw.sh stop DIR                    stop every daemon it started, by pid
#   scripts/rgw.sh ops DIR                     the gateway's ops log (JSON, one op a line)
#
# `eval "$(scripts/rgw.sh start /tmp/rgw)"` sets AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP and RGW_BUCKET (a bucket made for you).
# Data lives in RAM (memstore, capped by RGW_MEMSTORE_BYTES, default 3 GiB); nothing is kept.
# With --watch-stdin a watcher stops the cluster when stdin reaches end of file, so a test
# process that holds the write end cleans up even when it is killed (crates/chunker-store/
# tests/support/rgw.rs). Facts and settings: REFERENCE.md, "S3 servers that run here".
set -euo pipefail

die() { echo "rgw.sh: $*" >&2; exit 1; }
usage() { echo "usage: rgw.sh start DIR [--watch-stdin] | stop DIR | ops DIR" >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd=$1
[ "$cmd" = start ] && mkdir -p "$2"
dir=$(cd "$2" 2>/dev/null && pwd) || die "no directory $2"
# Debian's Python (python3-boto3); a pyenv shim earlier on PATH would not have boto3.
py=/usr/bin/python3

# A daemon of this cluster still running (a zombie counts as gone; a reused pid that is not
# one of ours is never touched: its command line must name this cluster's ceph.conf).
ours() {
  local st cmd
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [ "$st" != Z ] && [[ $cmd == *"$dir/ceph.conf"* ]]
}

# Stop the daemons with the given pids (those still ours). SIGKILL: the data lives in RAM
# and is thrown away, and a graceful osd shutdown takes seconds.
stop() {
  local pids=() p
  for p in "$@"; do
    ours "$p" && pids+=("$p")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 100); do
    local alive=0
    for p in "${pids[@]}"; do ours "$p" && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.05
  done
  die "daemons still running after SIGKILL: ${pids[*]}"
}
# The daemons named in DIR/pids.
started() { cat "$dir/pids" 2>/dev/null || true; }

case $cmd in
  stop)
    # shellcheck disable=SC2046
    stop $(started)
    exit 0
    ;;
  ops)
    cat "$dir/log/ops.log"
    exit 0
    ;;
  start) ;;
  *) usage ;;
esac

watch=0
[ "${3:-}" = "--watch-stdin" ] && watch=1
for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph uuidgen curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/setup.sh installs it)"
done
"$py" -c 'import boto3' 2>/dev/null || die "$py cannot import boto3 (apt-get install python3-boto3)"

mkdir -p "$dir"
[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log" "$dir/rgw"
: >"$dir/pids"
# On any failure from here on, say which step failed, stop what was started and show the
# end of the logs.
trap 'echo "rgw.sh: failed: $BASH_COMMAND (line $LINENO)" >&2' ERR
trap 'rc=$?; if [ $rc -ne 0 ]; then stop $(started); tail -n 5 "$dir"/log/*.log >&2 2>/dev/null; fi' EXIT

# Two free loopback ports (the kernel's choice; a clash with another cluster only fails
# this start, and the caller may retry).
read -r mon_port rgw_port < <("$py" -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

fsid=$(uuidgen)
conf="$dir/ceph.conf"
cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-3221225472}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# The mon's data is a few MB: start on a disk that is over 95 % full (builds fill it).
mon data avail crit = 0
mon data avail warn = 0
# One monitor: commit map changes at once (each pool the gateway creates is a new map).
paxos propose interval = 0.01
paxos min wait = 0.01
ms mon client mode = crc secure
ms client mode = crc secure

[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
# One JSON line per S3 request, the server-side request count (rgw_ops_log_file_path).
rgw enable ops log = true
rgw ops log rados = false
rgw ops log file path = $dir/log/ops.log
EOF

# Start a daemon in the foreground of a background job, so $! is its own pid.
daemon() {
  "$@" -f -c "$conf" </dev/null >>"$dir/log/daemons.out" 2>&1 &
  echo $! >>"$dir/pids"
}
ceph_() { ceph -c "$conf" --connect-timeout 30 "$@"; }

monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" >/dev/null 2>&1
daemon ceph-mon -i a

osd_uuid=$(uuidgen)
osd_id=$(ceph_ osd new "$osd_uuid")
mkdir -p "$dir/osd/osd.$osd_id"
ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
daemon ceph-osd -i "$osd_id"
daemon radosgw -n client.rgw.gw

# The gateway answers once its pools exist (it creates them at start).
for i in $(seq 300); do
  curl -s -o /dev/null "http://127.0.0.1:$rgw_port/" && break
  [ "$i" -eq 300 ] && die "gateway not answering on 127.0.0.1:$rgw_port after 60 s"
  sleep 0.2
done

access=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
radosgw-admin -c "$conf" user create --uid=chunker --display-name=chunker \
  --access-key="$access" --secret="$secret" >/dev/null 2>&1
bucket=chunker
AWS_ENDPOINT_URL="http://127.0.0.1:$rgw_port" AWS_ACCESS_KEY_ID=$access \
  AWS_SECRET_ACCESS_KEY=$secret "$py" -c '
import boto3, os, sys
boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1") \
    .create_bucket(Bucket=sys.argv[1])' "$bucket"

cat >"$dir/env" <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:$rgw_port
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1
export AWS_ALLOW_HTTP=true
export RGW_BUCKET=$bucket
EOF
if [ $watch -eq 1 ]; then
  # Stdin's end of file (the owner exited, however) stops the cluster: the pids are read
  # now, so the watcher needs nothing of DIR later. (Stdin explicitly: a background job's
  # stdin is otherwise /dev/null.)
  daemons=$(started)
  # shellcheck disable=SC2086
  (cat >/dev/null; stop $daemons) <&0 >/dev/null 2>&1 &
fi
trap - EXIT
cat "$dir/env"
