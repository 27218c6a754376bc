#!/bin/bash
# pg-ha-up.sh -- throwaway HA PostgreSQL 15 for tests: etcd + 3 Patroni nodes,
# Debian 12 packages only (etcd-server, patroni, python3-etcd, postgresql-15), no systemd.
#
# env:
#   MODE=sync|async        sync = synchronous_mode + synchronous_mode_strict, node_count 1 (default sync)
#   PGHA_NETNS=1|0         1 = each node in its own netns on a bridge (default), 0 = loopback ports
#   PGHA_PREFIX=pgha       names: netns <p>-n1.., bridge <p>-br, host veths <p>-h1..
#   PGHA_NET=10.77.0       /24 prefix: bridge/etcd .1, nodes .11 .12 .13   (netns mode)
#   PGHA_BASEPORT=15432    loopback mode: pg ports base+1.., REST 18008+i, etcd 12379/12380
#   PGHA_ETCD=1|3          number of etcd members (all on the bridge/loopback address, distinct ports)
#   PGHA_TTL=10 PGHA_LOOP_WAIT=1 PGHA_RETRY_TIMEOUT=5
#   PGHA_MAX_LAG=1048576   maximum_lag_on_failover (bytes a replica may be behind and still be promoted)
#   PGHA_USER=ferrite PGHA_PASSWORD=ferrite PGHA_DB=ferrite   app role/db created at bootstrap
#   PGHA_DIR=<dir>         state dir (default mktemp -d /tmp/pgha.XXXXXX)
# Needs root (netns, setpriv). Patroni/PostgreSQL run as the postgres user.
# Stop with: pg-ha-down.sh [<dir>]
set -euo pipefail

MODE=${MODE:-sync}
NETNS=${PGHA_NETNS:-1}
PREFIX=${PGHA_PREFIX:-pgha}
NET=${PGHA_NET:-10.77.0}
BASEPORT=${PGHA_BASEPORT:-15432}
NETCD=${PGHA_ETCD:-1}
MAX_LAG=${PGHA_MAX_LAG:-1048576}
TTL=${PGHA_TTL:-10}; LOOP_WAIT=${PGHA_LOOP_WAIT:-1}; RETRY_TIMEOUT=${PGHA_RETRY_TIMEOUT:-5}
APP_USER=${PGHA_USER:-ferrite}; APP_PASS=${PGHA_PASSWORD:-ferrite}; APP_DB=${PGHA_DB:-ferrite}
SUPER_PASS=${PGHA_SUPER_PASSWORD:-postgres}; REPL_PASS=${PGHA_REPL_PASSWORD:-replicator}
PG_BIN=/usr/lib/postgresql/15/bin
NODES="1 2 3"
HERE=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s.%N)

case $MODE in
  sync)  SYNC=true ;;
  async) SYNC=false ;;
  *) echo "MODE must be sync or async" >&2; exit 2 ;;
esac
for b in etcd patroni setpriv "$PG_BIN/postgres" psql curl jq bc; do
  command -v "$b" >/dev/null || { echo "missing $b (scripts/install-patroni.sh installs it)" >&2; exit 1; }
done

DIR=${PGHA_DIR:-$(mktemp -d /tmp/pgha.XXXXXX)}
mkdir -p "$DIR"; chmod 755 "$DIR"
mkdir -p "$HERE/../target"; echo "$DIR" > "$HERE/../target/pgha-last-run"
PIDS="$DIR/pids"; : > "$PIDS"
STATE="$DIR/state.env"
BR="$PREFIX-br"

# ---------- addresses ----------
if [ "$NETNS" = 1 ]; then
  ETCD_HOST=$NET.1; ETCD_CPORT=2379
  host_of() { echo "$NET.1$1"; }; pgport_of() { echo 5432; }; restport_of() { echo 8008; }
else
  ETCD_HOST=127.0.0.1; ETCD_CPORT=$((BASEPORT - 3053))   # 12379 by default
  host_of() { echo 127.0.0.1; }; pgport_of() { echo $((BASEPORT + $1)); }; restport_of() { echo $((18008 + $1)); }
fi

cat > "$STATE" <<EOF
PGHA_DIR=$DIR
PGHA_MODE=$MODE
PGHA_NETNS=$NETNS
PGHA_PREFIX=$PREFIX
PGHA_BRIDGE=$BR
PGHA_NODES="$NODES"
PGHA_ETCD=$NETCD
PGHA_USER=$APP_USER
PGHA_PASSWORD=$APP_PASS
PGHA_DB=$APP_DB
EOF

on_err() { echo "pg-ha-up: FAILED (state in $DIR; clean with $HERE/pg-ha-down.sh $DIR)" >&2; }
trap on_err ERR

# ---------- network ----------
if [ "$NETNS" = 1 ]; then
  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  for i in $NODES; do
    ns=$PREFIX-n$i; hv=$PREFIX-h$i
    ip netns add "$ns"
    ip link add "$hv" type veth peer name "$hv"p
    ip link set "$hv"p netns "$ns"
    ip -n "$ns" link set "$hv"p name eth0
    ip -n "$ns" addr add "$(host_of "$i")/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip link set "$hv" master "$BR"
    ip link set "$hv" up
    echo "PGHA_NS_$i=$ns" >> "$STATE"
  done
fi

# ---------- etcd (root namespace, on the bridge address) ----------
ETCD_CLUSTER=""; ETCD_HOSTS=""
for e in $(seq 1 "$NETCD"); do
  cp=$((ETCD_CPORT + 2*(e-1))); pp=$((cp + 1))
  ETCD_CLUSTER+="${ETCD_CLUSTER:+,}e$e=http://$ETCD_HOST:$pp"
  ETCD_HOSTS+="${ETCD_HOSTS:+,}$ETCD_HOST:$cp"
done
for e in $(seq 1 "$NETCD"); do
  cp=$((ETCD_CPORT + 2*(e-1))); pp=$((cp + 1))
  mkdir -p "$DIR/etcd$e"
  etcd --name "e$e" --data-dir "$DIR/etcd$e/data" \
    --listen-client-urls "http://$ETCD_HOST:$cp" --advertise-client-urls "http://$ETCD_HOST:$cp" \
    --listen-peer-urls "http://$ETCD_HOST:$pp" --initial-advertise-peer-urls "http://$ETCD_HOST:$pp" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new --initial-cluster-token "$PREFIX-$$" \
    --heartbeat-interval 100 --election-timeout 1000 --logger zap --log-outputs stderr \
    > "$DIR/etcd$e/etcd.log" 2>&1 &
  echo "etcd$e $!" >> "$PIDS"
done
for _ in $(seq 1 100); do
  curl -sf "http://$ETCD_HOST:$ETCD_CPORT/health" | grep -q '"health":"true"' && break
  sleep 0.2
done
curl -sf "http://$ETCD_HOST:$ETCD_CPORT/health" | grep -q '"health":"true"' || { echo "etcd not healthy" >&2; false; }

# ---------- Patroni nodes ----------
cat > "$DIR/post_bootstrap.sh" <<EOF
#!/bin/sh
# \$1 = superuser connection URL on the new primary. synchronous_commit=local: no standby exists yet.
export PGOPTIONS='-c synchronous_commit=local'
psql "\$1" -v ON_ERROR_STOP=1 -qc "CREATE ROLE \"$APP_USER\" LOGIN PASSWORD '$APP_PASS'" &&
psql "\$1" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$APP_DB\" OWNER \"$APP_USER\""
EOF
chmod 755 "$DIR/post_bootstrap.sh"

for i in $NODES; do
  nd=$DIR/n$i; h=$(host_of "$i"); p=$(pgport_of "$i"); r=$(restport_of "$i")
  mkdir -p "$nd"; chown postgres:postgres "$nd"; chmod 700 "$nd"
  cat > "$nd/patroni.yml" <<EOF
scope: $PREFIX
namespace: /service/
name: n$i
log:
  level: INFO
restapi:
  listen: $h:$r
  connect_address: $h:$r
etcd3:
  hosts: $ETCD_HOSTS
watchdog:
  mode: off
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    maximum_lag_on_failover: $MAX_LAG
    synchronous_mode: $SYNC
    synchronous_mode_strict: $SYNC
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
        synchronous_commit: "on"
        wal_sender_timeout: 5s     # default 60s: a primary whose link is cut hangs in "shutting down" on demote
        wal_receiver_timeout: 5s
        wal_retrieve_retry_interval: 500ms   # default 5s: re-pointed standbys reconnect late -> strict-mode writes block longer
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
  post_bootstrap: $DIR/post_bootstrap.sh
postgresql:
  listen: $h:$p
  connect_address: $h:$p
  data_dir: $nd/data
  bin_dir: $PG_BIN
  pgpass: $nd/pgpass
  use_unix_socket: true
  basebackup:            # default is a *spread* checkpoint: replicas took ~90 s to clone a fresh cluster
    - checkpoint: fast
  authentication:
    superuser:   {username: postgres,   password: $SUPER_PASS}
    replication: {username: replicator, password: $REPL_PASS}
    rewind:      {username: rewinder,   password: rewinder}
  parameters:
    unix_socket_directories: $nd
    max_connections: 100
    shared_buffers: 32MB
    password_encryption: scram-sha-256
    logging_collector: "on"          # the server's own log, in <data>/log (errors with their statements)
    log_directory: log
    log_line_prefix: "%m [%p] %a x%x "
  pg_hba:
    - local all all trust
    - host replication replicator samenet scram-sha-256
    - host all all samenet scram-sha-256
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
  chown postgres:postgres "$nd/patroni.yml"
  if [ "$NETNS" = 1 ]; then
    ip netns exec "$PREFIX-n$i" setpriv --reuid=postgres --regid=postgres --init-groups \
      env HOME="$nd" PATH=/usr/bin:/bin patroni "$nd/patroni.yml" > "$nd/patroni.log" 2>&1 &
  else
    setpriv --reuid=postgres --regid=postgres --init-groups \
      env HOME="$nd" PATH=/usr/bin:/bin patroni "$nd/patroni.yml" > "$nd/patroni.log" 2>&1 &
  fi
  echo $! > "$nd/patroni.pid"
  echo "patroni-n$i $!" >> "$PIDS"
done

URL="postgresql://$APP_USER:$APP_PASS@"
for i in $NODES; do URL+="$(host_of "$i"):$(pgport_of "$i"),"; done
URL="${URL%,}/$APP_DB?target_session_attrs=read-write&connect_timeout=2"
echo "PGHA_URL='$URL'" >> "$STATE"
echo "PGHA_PIDS=$PIDS" >> "$STATE"
for i in $NODES; do
  echo "PGHA_REST_$i=http://$(host_of "$i"):$(restport_of "$i")" >> "$STATE"
  echo "PGHA_PGDATA_$i=$DIR/n$i/data" >> "$STATE"
done

# ---------- wait: leader running + (sync) a sync_standby / (async) 2 running replicas + a write works ----------
ready=0
for _ in $(seq 1 600); do
  for i in $NODES; do
    js=$(curl -s --max-time 1 "http://$(host_of "$i"):$(restport_of "$i")/cluster" 2>/dev/null) || continue
    [ -n "$js" ] || continue
    nl=$(jq '[.members[]|select(.role=="leader" and .state=="running")]|length' <<<"$js")
    ns=$(jq '[.members[]|select(.role=="sync_standby" and .state=="running")]|length' <<<"$js")
    nr=$(jq '[.members[]|select(.role!="leader" and .state=="running")]|length' <<<"$js")
    if [ "$nl" = 1 ] && { { [ "$MODE" = sync ] && [ "$ns" -ge 1 ]; } || { [ "$MODE" = async ] && [ "$nr" -ge 2 ]; }; }; then
      if psql "$URL" -Atqc "CREATE TABLE IF NOT EXISTS pgha_probe(t timestamptz); INSERT INTO pgha_probe VALUES (now())" >/dev/null 2>&1; then
        ready=1
      fi
    fi
    break
  done
  [ $ready = 1 ] && break
  sleep 0.2
done
[ $ready = 1 ] || { echo "cluster not ready after 120s; logs in $DIR/n*/patroni.log" >&2; false; }
T1=$(date +%s.%N)

echo "PGHA_DIR=$DIR"
echo "PGHA_STATE=$STATE"
echo "PGHA_URL=$URL"
echo "PGHA_PIDS_FILE=$PIDS"
for i in $NODES; do echo "PGHA_PATRONI_PIDFILE_$i=$DIR/n$i/patroni.pid PGHA_POSTMASTER_PIDFILE_$i=$DIR/n$i/data/postmaster.pid"; done
if [ "$NETNS" = 1 ]; then
  echo "PGHA_NETNS=$(for i in $NODES; do printf '%s ' "$PREFIX-n$i"; done)bridge=$BR"
fi
curl -s "http://$(host_of 1):$(restport_of 1)/cluster" | jq -c '[.members[]|{name,role,state,host}]'
printf 'PGHA_READY_SECONDS=%.2f\n' "$(echo "$T1 - $T0" | bc)"
