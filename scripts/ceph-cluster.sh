#!/usr/bin/env bash
# A throwaway single-host Ceph cluster for tests, from Debian 12's packages (Ceph 16.2
# "pacific", installed by scripts/install-ceph.sh), without systemd: 1 mon + 1 mgr +
# 3 memstore OSDs (in memory), cephx on, one replicated pool of size 3 / min_size 2
# (`osd crush chooseleaf type = 0`: the three copies on three OSDs of this host).
# Ready in about 6 s.
#
#   scripts/ceph-cluster.sh up      # prints CEPH_DIR=, CEPH_CONF=, CEPH_KEYRING=, CEPH_POOL=
#   scripts/ceph-cluster.sh down DIR
#
# up's settings: MON_IP (127.0.0.1; a namespace's address to run it there), MON_PORT
# (a free one), NUM_OSDS (3), POOL (ferrite), PG_NUM (8), OSD_MEM_BYTES (1 GiB per
# OSD), WITH_MGR (1), WAIT_TIMEOUT (60 s), BASE (target/ceph).
# down stops the daemons by the PIDs in DIR/run/*.pid (only those whose command line
# names DIR's ceph.conf), with SIGKILL (the data is throwaway; GRACEFUL=1 sends
# SIGTERM first), and removes DIR.
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
shift || true

up() {
set -euo pipefail

MON_IP=${MON_IP:-127.0.0.1}
NUM_OSDS=${NUM_OSDS:-3}
POOL=${POOL:-ferrite}
PG_NUM=${PG_NUM:-8}
OSD_MEM_BYTES=${OSD_MEM_BYTES:-1073741824}
BASE=${BASE:-$root/target/ceph}
WITH_MGR=${WITH_MGR:-1}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-60}

free_port() { # first port in [a,b] nobody listens on
  local p
  for p in $(seq "$1" "$2"); do
    if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return 0; fi
  done
  return 1
}
MON_PORT=${MON_PORT:-$(free_port 13300 13999)}     # msgr v2 port
MON_PORT_V1=${MON_PORT_V1:-$(free_port $((MON_PORT + 1)) 14999)}

mkdir -p "$BASE"
D=$(mktemp -d "$BASE/cluster-XXXX")
mkdir -p "$D"/{run,log,mgr.x}
FSID=$(uuidgen)
log() { echo "[$(date +%T.%3N)] $*" >&2; }
fail() { log "FAILED: $*"; log "logs in $D/log"; exit 1; }

cat > "$D/ceph.conf" <<EOF
[global]
fsid = $FSID
mon host = [v2:$MON_IP:$MON_PORT,v1:$MON_IP:$MON_PORT_V1]
public addr = $MON_IP
cluster addr = $MON_IP
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $D/run
mon cluster log file = $D/log/cluster.log
crash dir = $D/crash
log to stderr = false
err to stderr = false
osd pool default size = 3
osd pool default min size = 2
osd pool default pg num = $PG_NUM
osd pool default pgp num = $PG_NUM
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool delete = true
mon allow pool size one = true
mon data avail warn = 2
mon data avail crit = 1
mon warn on pool no app = false
ms bind ipv6 = false

[mon]
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
mon data = $D/\$name

[mgr]
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
mgr data = $D/\$name
keyring = $D/\$name/keyring
mgr/devicehealth/enable_monitoring = false

[osd]
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
osd objectstore = memstore
memstore device bytes = $OSD_MEM_BYTES
osd data = $D/\$name
keyring = $D/\$name/keyring
osd op num shards = 2
osd op num threads per shard = 1
osd crush update on start = true

[client]
keyring = $D/ceph.client.admin.keyring
log file = $D/log/client.log
EOF
CONF=$D/ceph.conf

T0=$(date +%s.%N)
# ---- keys (cephx) ----
ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$D/ceph.client.admin.keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool --create-keyring "$D/mgr.x/keyring" --gen-key -n mgr.x \
  --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool "$D/mon.keyring" --import-keyring "$D/ceph.client.admin.keyring" >/dev/null
ceph-authtool "$D/mon.keyring" --import-keyring "$D/mgr.x/keyring" >/dev/null
for i in $(seq 0 $((NUM_OSDS - 1))); do
  mkdir -p "$D/osd.$i"
  ceph-authtool --create-keyring "$D/osd.$i/keyring" --gen-key -n "osd.$i" \
    --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *' >/dev/null
  # OSD keys go into the mon's initial auth db, so no "ceph auth add" round-trips are needed
  ceph-authtool "$D/mon.keyring" --import-keyring "$D/osd.$i/keyring" >/dev/null
done

# ---- mon ----
monmaptool --create --fsid "$FSID" --enable-all-features \
  --addv a "[v2:$MON_IP:$MON_PORT,v1:$MON_IP:$MON_PORT_V1]" "$D/monmap" >/dev/null
ceph-mon -c "$CONF" --cluster ceph --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring"
ceph-mon -c "$CONF" -i a      # daemonizes; pid in $D/run/mon.a.pid
log "mon started (v2 $MON_IP:$MON_PORT)"

# ---- OSD mkfs (memstore, no mon contact needed) in parallel with the mon coming up ----
declare -a UUIDS
pids=()
for i in $(seq 0 $((NUM_OSDS - 1))); do
  UUIDS[$i]=$(uuidgen)
  ceph-osd -c "$CONF" -i "$i" --mkfs --osd-uuid "${UUIDS[$i]}" >"$D/log/osd.$i.mkfs.out" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "ceph-osd --mkfs"; done
log "osd mkfs done"

C=(ceph -c "$CONF" --connect-timeout 20)
# register the OSD ids (+uuids) in the osdmap: one mon command each
# (the first command also waits for the mon to form quorum)
"${C[@]}" osd new "${UUIDS[0]}" 0 >/dev/null || fail "ceph osd new 0"
pids=()
for i in $(seq 1 $((NUM_OSDS - 1))); do
  "${C[@]}" osd new "${UUIDS[$i]}" "$i" >/dev/null & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "ceph osd new"; done
log "osds registered"
# each ceph-osd only forks into the background after it has mounted its store and
# reached the mon (~2 s), so start them all at once
pids=()
for i in $(seq 0 $((NUM_OSDS - 1))); do ceph-osd -c "$CONF" -i "$i" & pids+=($!); done
if [ "$WITH_MGR" = 1 ]; then ceph-mgr -c "$CONF" -i x & pids+=($!); fi
for p in "${pids[@]}"; do wait "$p" || fail "daemon start"; done
log "osds (+mgr) started"

"${C[@]}" osd pool create "$POOL" "$PG_NUM" "$PG_NUM" replicated >/dev/null 2>&1 || fail "pool create"
"${C[@]}" osd pool application enable "$POOL" rados >/dev/null 2>&1 || true

# ---- wait until a client can really write/read in the pool ----
deadline=$(( $(date +%s) + WAIT_TIMEOUT ))
until [ "$("${C[@]}" osd stat -f json 2>/dev/null | python3 -c 'import sys,json;d=json.load(sys.stdin);print(d["num_up_osds"])' 2>/dev/null)" = "$NUM_OSDS" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "OSDs not up"
  sleep 0.2
done
log "$NUM_OSDS osds up"
echo probe > "$D/probe.in"
until timeout 10 rados -c "$CONF" -p "$POOL" put __probe__ "$D/probe.in" 2>/dev/null \
   && timeout 10 rados -c "$CONF" -p "$POOL" rm __probe__ 2>/dev/null; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "pool not writable"
  sleep 0.2
done
rm -f "$D/probe.in"
T1=$(date +%s.%N)
log "cluster ready in $(awk "BEGIN{printf \"%.1f\", $T1 - $T0}") s"

echo "CEPH_DIR=$D"
echo "CEPH_CONF=$D/ceph.conf"
echo "CEPH_KEYRING=$D/ceph.client.admin.keyring"
echo "CEPH_USER=client.admin"
echo "CEPH_POOL=$POOL"
}

down() {
set -uo pipefail
D=${1:-${CEPH_DIR:-}}
[ -n "$D" ] && [ -f "$D/ceph.conf" ] || { echo "usage: $0 CLUSTER_DIR" >&2; return 2; }
pids=()
for f in "$D"/run/*.pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  # only signal it if it really is a daemon started with this cluster's conf
  if [ -n "$p" ] && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$D/ceph.conf"; then
    pids+=("$p")
  fi
done
alive() { local p out=(); for p in "$@"; do [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && out+=("$p"); done; echo "${out[@]}"; }
if [ "${GRACEFUL:-0}" = 1 ] && [ ${#pids[@]} -gt 0 ]; then
  kill -TERM "${pids[@]}" 2>/dev/null
  for _ in $(seq 1 100); do [ -z "$(alive "${pids[@]}")" ] && break; sleep 0.1; done
fi
left=$(alive "${pids[@]}")
[ -n "$left" ] && kill -KILL $left 2>/dev/null
for _ in $(seq 1 50); do [ -z "$(alive "${pids[@]}")" ] && break; sleep 0.1; done
rm -rf -- "$D"
echo "stopped ${#pids[@]} daemons (${pids[*]}), removed $D"
}

case "$cmd" in
  up) up "$@" ;;
  down) down "$@" ;;
  *) echo "usage: $0 up | down DIR" >&2; exit 2 ;;
esac
