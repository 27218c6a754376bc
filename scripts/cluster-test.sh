#!/usr/bin/env bash
# The cluster test (issue 20): Ferrite gateways over PostgreSQL under Patroni and Ceph
# RADOS, all on this machine in network namespaces on one bridge, under load, while
# faults are injected; then every acknowledged write must be there.
#
#   scripts/cluster-test.sh            # the synchronous run, then the negative control
#   CLUSTER_TEST_MODES=sync scripts/cluster-test.sh
#
# Each run starts (Debian 12 packages only, installed by the scripts it calls):
#   etcd + 3 PostgreSQL 15 nodes under Patroni (scripts/pg-ha-up.sh; namespaces
#       fct-n1..3, 10.77.0.11-13; etcd on the bridge, 10.77.0.1),
#   Ceph: 1 mon + 1 mgr + 3 memstore OSDs, pool size 3 / min_size 2 (scripts/ceph-cluster.sh
#       in namespace fct-ceph, 10.77.0.30),
#   3 gateways (`ferrite serve --meta ... --blobs rados:...`, namespaces fct-gw1..3,
#       10.77.0.21-23), and a client (namespace fct-cli, 10.77.0.40) that runs
#       `cluster_load` (crates/ferrite/examples/cluster_load.rs, the AWS SDK for Rust):
#       single and multipart PUTs, versioned PUTs, deletes of objects, versions and
#       delete markers, GETs, round-robin over the gateways, logging each write as
#       acknowledged only after its 200.
# Mid-load, each in turn, with SIGKILL: one OSD; the Patroni leader's whole "host"
# (every process in its namespace), 2 s after a partition cut its replicas off (their
# links down; up again once the leader is dead); one gateway. Then, through the two
# surviving gateways, `cluster_load verify` checks that every acknowledged write reads
# back byte-exact and is listed, every acknowledged delete holds, and whatever is
# listed is a whole write that was tried.
#
# Modes: `sync` is Patroni's synchronous_mode_strict, which must lose nothing; `async`
# is the negative control, asynchronous replication under the same faults, where the
# same check must report lost acknowledged writes (else the check could not fail, and
# the script fails). Prints the time from each fault to the first acknowledged write
# sent after it (the failover latency). Needs root (namespaces). Everything it started
# is stopped by PID and namespace at the end; results in target/cluster-test/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ "$(id -u)" = 0 ] || { echo "cluster-test.sh needs root (network namespaces)" >&2; exit 1; }
modes=${CLUSTER_TEST_MODES:-sync async}
pause_secs=${CLUSTER_TEST_PARTITION_SECS:-2}

scripts/install-patroni.sh
scripts/install-ceph.sh
# Built as the README's test command builds (--workspace --all-features): after it,
# this compiles nothing.
cargo build --workspace --all-features --bin ferrite --example cluster_load >&2
ferrite=$root/target/debug/ferrite
load=$root/target/debug/examples/cluster_load
out=$root/target/cluster-test
mkdir -p "$out"

export FERRITE_ROOT_ACCESS_KEY=CLUSTERTESTACCESS001 FERRITE_ROOT_SECRET_KEY=cluster-test-secret-key-0000000000000001
export AWS_ACCESS_KEY_ID=$FERRITE_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$FERRITE_ROOT_SECRET_KEY

log() { echo "[cluster-test $(date +%T.%3N)] $*" >&2; }
now_ms() { date +%s%3N; }

# State of the current run, for cleanup.
work="" pg_dir="" ceph_dir="" own_ns=() gw_pids=() load_pid=""
cleanup() { # (every step may find its part already gone: none may stop the others)
  local p ns
  [ -z "$load_pid" ] || kill -KILL "$load_pid" 2>/dev/null || true
  for p in "${gw_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -z "$ceph_dir" ] || scripts/ceph-cluster.sh down "$ceph_dir" >/dev/null 2>&1 || true
  [ -z "$pg_dir" ] || scripts/pg-ha-down.sh "$pg_dir" >/dev/null 2>&1 || true
  for ns in "${own_ns[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for p in fct-hk fct-hc fct-hg1 fct-hg2 fct-hg3; do ip link del "$p" 2>/dev/null || true; done
  [ -z "$work" ] || rm -rf -- "$work"
  work="" pg_dir="" ceph_dir="" own_ns=() gw_pids=() load_pid=""
}
trap cleanup EXIT

add_ns() { # NAME IP HOST_VETH: a namespace with one address on the test bridge
  local ns=$1 ip=$2 hv=$3
  ip netns add "$ns"
  own_ns+=("$ns")
  ip link add "$hv" type veth peer name "${hv}p"
  ip link set "${hv}p" netns "$ns"
  ip -n "$ns" link set "${hv}p" name eth0
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip link set "$hv" master "$PGHA_BRIDGE"
  ip link set "$hv" up
}

patroni_members() { # the /cluster view of any node that answers
  local i js
  for i in 1 2 3; do
    js=$(curl -s --max-time 1 "http://10.77.0.1$i:8008/cluster" 2>/dev/null) && [ -n "$js" ] && { echo "$js"; return 0; }
  done
  return 1
}

wait_pg_healthy() { # MODE OLD_LEADER: a running leader other than nOLD_LEADER and (sync) a sync standby, within 90 s
  local mode=$1 old=n$2 js nl ns
  for _ in $(seq 1 450); do
    if js=$(patroni_members); then
      nl=$(jq --arg old "$old" '[.members[]|select(.role=="leader" and .state=="running" and .name!=$old)]|length' <<<"$js")
      ns=$(jq '[.members[]|select(.role=="sync_standby" and .state=="running")]|length' <<<"$js")
      if [ "$nl" = 1 ] && { [ "$mode" = async ] || [ "$ns" -ge 1 ]; }; then return 0; fi
    fi
    sleep 0.2
  done
  return 1
}

# ceph/s3-tests against a gateway of the cluster (after the synchronous run, the
# cluster as the faults left it: a new database leader, one OSD down): a database and
# a pool of their own, the gateway started by scripts/ceph-s3-tests.sh in the client's
# namespace. CLUSTER_TEST_S3TESTS=PATH_TO_S3_TESTS turns it on (not in CI: ~10 min);
# CLUSTER_TEST_FERRITE_BIN picks the binary (a release build with --features rados).
s3tests_on_cluster() { # CEPH_CONF
  local conf=$1 admin_url s3_url
  log "sync: ceph/s3-tests against a gateway of this cluster"
  admin_url=$(sed -e "s|//$PGHA_USER:$PGHA_PASSWORD@|//postgres:postgres@|" -e "s|/$PGHA_DB?|/postgres?|" <<<"$PGHA_URL")
  psql "$admin_url" -qc "CREATE DATABASE s3tests OWNER \"$PGHA_USER\""
  s3_url=$(sed "s|/$PGHA_DB?|/s3tests?|" <<<"$PGHA_URL")
  ip netns exec fct-ceph ceph -c "$conf" osd pool create s3tests 8 8 replicated >/dev/null 2>&1
  ip netns exec fct-ceph ceph -c "$conf" osd pool application enable s3tests rados >/dev/null 2>&1 || true
  # The new pool's placement groups peer first (with one OSD down): wait until it takes a write.
  local i ok=0
  for i in $(seq 1 30); do
    ip netns exec fct-ceph timeout 5 rados -c "$conf" -p s3tests put __probe__ /etc/hostname 2>/dev/null && { ok=1; break; }
    sleep 1
  done
  [ $ok = 1 ] || { log "sync: the s3tests pool takes no write: ceph/s3-tests not run"; return 0; }
  ip netns exec fct-ceph timeout 5 rados -c "$conf" -p s3tests rm __probe__ 2>/dev/null || true
  ip netns exec fct-cli env CEPH_OUT="$out/s3-tests" FERRITE_BIN="${CLUSTER_TEST_FERRITE_BIN:-$ferrite}" \
    CEPH_SERVER_ARGS="--meta $s3_url --blobs rados:pool=s3tests,conf=$conf --kms-master-key-file $work/master.key" \
    scripts/ceph-s3-tests.sh "$CLUSTER_TEST_S3TESTS" ${CLUSTER_TEST_S3TESTS_ARGS:-} || true
}

acks_now() { # ACKS_FILE: writes acknowledged so far
  local n
  n=$(grep -c '"t":"put"' "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

wait_acks_flowing() { # MODE: until a write is acknowledged within a second (30 s at most)
  local i a
  for i in $(seq 1 30); do
    a=$(acks_now "$acks")
    sleep 1
    [ "$(acks_now "$acks")" -gt "$a" ] && return 0
  done
  log "$1: no write acknowledged for 30 s before the database's fault"
  return 1
}

run() { # MODE: one cluster, one load, the faults, the check; sets run_rc to the check's exit code.
  # (Called as a plain command: any failure ends the script, and the EXIT trap cleans up.)
  local mode=$1
  work=$(mktemp -d -p "$out" "run-$mode.XXXXXX")
  chmod 755 "$work"
  local events=$work/events acks=$work/acks.jsonl

  log "$mode: PostgreSQL under Patroni"
  # A replica several MB behind may still be promoted: the control needs the promotion.
  MODE=$mode PGHA_PREFIX=fct PGHA_DIR="$work/pg" PGHA_MAX_LAG=$((256 << 20)) \
    scripts/pg-ha-up.sh >"$work/pg-up.out" 2>&1 || { cat "$work/pg-up.out" >&2; return 1; }
  pg_dir=$work/pg
  # shellcheck disable=SC1091
  . "$pg_dir/state.env"
  log "$mode: Ceph"
  add_ns fct-ceph 10.77.0.30 fct-hk
  local ceph_out
  # 4 GiB of memory per OSD at most (memstore): the load stores about 1 GiB, in 3 copies.
  ceph_out=$(ip netns exec fct-ceph env MON_IP=10.77.0.30 BASE="$work/ceph" OSD_MEM_BYTES=$((4 << 30)) \
    scripts/ceph-cluster.sh up 2>"$work/ceph-up.err") ||
    { cat "$work/ceph-up.err" >&2; return 1; }
  ceph_dir=$(sed -n 's/^CEPH_DIR=//p' <<<"$ceph_out")
  local ceph_conf ceph_pool
  ceph_conf=$(sed -n 's/^CEPH_CONF=//p' <<<"$ceph_out")
  ceph_pool=$(sed -n 's/^CEPH_POOL=//p' <<<"$ceph_out")

  log "$mode: gateways"
  # Gateways that share a store share the master key of server-side encryption.
  head -c 32 /dev/urandom | base64 >"$work/master.key"
  chmod 600 "$work/master.key"
  local endpoints=() i
  for i in 1 2 3; do
    add_ns "fct-gw$i" "10.77.0.2$i" "fct-hg$i"
    mkdir -p "$work/gw$i"
    RUST_LOG=info ip netns exec "fct-gw$i" "$ferrite" serve --listen "10.77.0.2$i:9000" --data-dir "$work/gw$i/data" \
      --meta "$PGHA_URL" --blobs "rados:pool=$ceph_pool,conf=$ceph_conf" --kms-master-key-file "$work/master.key" \
      >"$work/gw$i/stdout" 2>"$work/gw$i/log" &
    gw_pids+=($!)
    endpoints+=("http://10.77.0.2$i:9000")
  done
  for i in 1 2 3; do
    for _ in $(seq 1 300); do grep -q '^listening on ' "$work/gw$i/stdout" && break; sleep 0.1; done
    # Its log up to a backtrace (RUST_BACKTRACE may be set), whose frames would push
    # the error itself out of the lines shown.
    grep -q '^listening on ' "$work/gw$i/stdout" ||
      { log "$mode: gateway $i did not start:"; sed -E '/^[Ss]tack backtrace:/,$d' "$work/gw$i/log" | tail -20 >&2; return 1; }
  done
  add_ns fct-cli 10.77.0.40 fct-hc
  local all survivors
  all=$(IFS=,; echo "${endpoints[*]}")
  survivors="${endpoints[0]},${endpoints[1]}"
  ip netns exec fct-cli "$load" setup --endpoints "$all"

  log "$mode: load"
  : >"$events"
  ip netns exec fct-cli "$load" load --endpoints "$all" --log "$acks" --stop-file "$work/stop" \
    >"$work/load.out" 2>&1 &
  load_pid=$!
  sleep 6

  if [ "$mode" = sync ]; then
    log "$mode: SIGKILL osd.1"
    echo "osd-killed $(now_ms)" >>"$events"
    kill -KILL "$(cat "$ceph_dir/run/osd.1.pid")"
    sleep 8
  fi

  # The database's fault must hit a cluster that is acknowledging writes: Patroni may
  # move the leader by itself (an etcd stall on a busy machine was seen to), and a
  # partition cut while no write can be acknowledged would test nothing.
  wait_acks_flowing "$mode" || return 1
  local js leader replicas=() acked_before
  acked_before=$(acks_now "$acks")
  js=$(patroni_members)
  leader=$(jq -r '.members[]|select(.role=="leader")|.name' <<<"$js" | tr -dc 0-9)
  [ -n "$leader" ] || { log "no Patroni leader"; return 1; }
  for i in 1 2 3; do [ "$i" = "$leader" ] || replicas+=("fct-h$i"); done
  # The replicas' links go down (a partition between the primary and its replicas;
  # what was already delivered to them stays), the leader's host dies, the links
  # come back: the replicas hold only what reached them before the partition.
  log "$mode: cutting the replicas off (${replicas[*]}) for ${pause_secs}s, then SIGKILL of the leader's host fct-n$leader"
  for l in "${replicas[@]}"; do ip link set "$l" down; done
  sleep "$pause_secs"
  log "$mode: writes acknowledged during the partition: $(($(acks_now "$acks") - acked_before))"
  echo "leader-killed $(now_ms)" >>"$events"
  for p in $(ip netns pids "fct-n$leader"); do kill -KILL "$p" 2>/dev/null || true; done
  for l in "${replicas[@]}"; do ip link set "$l" up; done
  wait_pg_healthy "$mode" "$leader" || { log "no new leader within 90 s"; return 1; }
  log "$mode: new leader: $(patroni_members | jq -c '[.members[]|{name,role,state}]')"
  sleep 4

  if [ "$mode" = sync ]; then
    log "$mode: SIGKILL gateway 3"
    echo "gateway-killed $(now_ms)" >>"$events"
    kill -KILL "${gw_pids[2]}"
    sleep 6
  fi
  touch "$work/stop"
  wait "$load_pid" || { cat "$work/load.out" >&2; load_pid=""; return 1; }
  load_pid=""
  cat "$work/load.out" >&2

  log "$mode: verify through $survivors"
  local rc=0
  ip netns exec fct-cli "$load" verify --endpoints "$survivors" --log "$acks" --events "$events" \
    >"$out/$mode-verify.json" 2>"$work/verify.err" || rc=$?
  cat "$out/$mode-verify.json" >&2
  [ -s "$work/verify.err" ] && cat "$work/verify.err" >&2
  if [ "$mode" = sync ] && [ -n "${CLUSTER_TEST_S3TESTS:-}" ]; then
    s3tests_on_cluster "$ceph_conf"
  fi
  cp "$acks" "$out/$mode-acks.jsonl"
  for i in 1 2 3; do
    cp "$work/gw$i/log" "$out/$mode-gw$i.log"
    cat "$pg_dir/n$i/patroni.log" "$pg_dir"/n$i/data/log/* >"$out/$mode-pg$i.log" 2>/dev/null || true
  done
  cleanup
  run_rc=$rc
}

failed=0 run_rc=""
for mode in $modes; do
  case $mode in
    sync)
      run sync
      rc=$run_rc
      if [ "$rc" = 0 ]; then
        log "sync: PASS, no acknowledged write lost ($(jq -c '{acked_puts,acked_deletes,verified,listed}' "$out/sync-verify.json"))"
        log "sync: fault -> first acknowledged write: $(jq -c '[.events[]|{(.event):.first_ack_after_ms}]|add' "$out/sync-verify.json") ms"
      else
        log "sync: FAIL (rc $rc): see $out/sync-verify.json"
        failed=1
      fi
      ;;
    async)
      run async
      rc=$run_rc
      lost=$(jq '.lost + .resurrected' "$out/async-verify.json" 2>/dev/null || echo 0)
      if [ "$rc" = 1 ] && [ "${lost:-0}" -gt 0 ]; then
        log "async (negative control): PASS, the check reported $lost lost acknowledged writes"
      else
        log "async (negative control): FAIL, the check saw no loss (rc $rc): it could not tell"
        failed=1
      fi
      ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
done
exit $failed
