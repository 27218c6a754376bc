#!/usr/bin/env bash
# Ferrite's cluster benchmark (`BENCH_CLUSTER=1 bench/run.sh` runs this): the same
# workloads, in one run, on
#   embedded    one server, redb + files (the default mode),
#   cluster-1   one gateway, metadata in PostgreSQL, data in Ceph RADOS,
#   cluster-2   two gateways on the same database and pool, each driven by its own
#               load generator with half the concurrency (ops/s summed).
# Workloads: 4 KiB PUT/GET (16 at a time, BENCH_DURATION each) and 64 MiB PUT/GET (4
# at a time, 5 s each: the OSDs keep their data in memory).
#
#   BENCH_CLUSTER=1 bench/run.sh
#   BENCH_DURATION=5s BENCH_CLUSTER=1 bench/run.sh
#
# Everything runs on this one machine: PostgreSQL 15 (a throwaway server, fsync and
# synchronous_commit on, no replica), Ceph 16 (scripts/ceph-cluster.sh: 1 mon, 1 mgr,
# 3 OSDs on memstore, that is in memory, pool size 3 / min_size 2), the gateways and
# the load generators, all sharing the cores: the figures show what the layers cost
# relative to each other on one box, not what a real cluster of machines reaches.
# Then, as root, the failover latency from scripts/cluster-test.sh (BENCH_FAILOVER=0
# skips it). Writes bench/results/<UTC time>-cluster.{json,md}. Loopback traffic and
# the test's own network namespaces only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${BENCH_DURATION:-10s}
out="$root/bench/results"
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

scripts/install-postgres.sh
scripts/install-ceph.sh
cargo build --release -p ferrite --features rados -p ferrite-bench >&2
ferrite="$root/target/release/ferrite"
bench="$root/target/release/ferrite-bench"
mkdir -p "$root/target/bench"
work=$(mktemp -d -p "$root/target/bench" cluster.XXXXXX)
runs="$work/runs"
mkdir -p "$runs"
pids=()
ceph_dir=""
stop_all() { # the servers and the Ceph cluster this script started
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  [ -z "$ceph_dir" ] || scripts/ceph-cluster.sh down "$ceph_dir" >/dev/null 2>&1 || true
  ceph_dir=""
}
cleanup() {
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL.
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as=()
if [ "$(id -u)" = 0 ]; then
  # The server runs as postgres, which must reach its directory.
  chmod 711 "$work"
  mkdir -p "$work/pg" && chown postgres: "$work/pg"
  as=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
"${as[@]}" "$bin/initdb" -A trust -U ferrite -E UTF8 --locale=C -N -D "$work/pg/data" >/dev/null
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/postgres" -D "$work/pg/data" -p "$pg_port" -k "$work/pg" -c listen_addresses=127.0.0.1 \
  -c max_connections=200 -c shared_buffers=256MB >"$work/pg/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break; sleep 0.1; done
psql "postgres://ferrite@127.0.0.1:$pg_port/postgres" -qc "CREATE DATABASE bench"
meta="postgres://ferrite@127.0.0.1:$pg_port/bench"

# Ceph.
# 4 GiB of memory per OSD at most: the 64 MiB workloads store a few GiB (3 copies).
ceph_out=$(BASE="$work/ceph" OSD_MEM_BYTES=$((4 << 30)) scripts/ceph-cluster.sh up)
ceph_dir=$(sed -n 's/^CEPH_DIR=//p' <<<"$ceph_out")
ceph_conf=$(sed -n 's/^CEPH_CONF=//p' <<<"$ceph_out")
ceph_pool=$(sed -n 's/^CEPH_POOL=//p' <<<"$ceph_out")
blobs="rados:pool=$ceph_pool,conf=$ceph_conf"

export FERRITE_ROOT_ACCESS_KEY=BENCHACCESSKEY000001 FERRITE_ROOT_SECRET_KEY=bench-secret-key-for-local-runs-00000001
export AWS_ACCESS_KEY_ID=$FERRITE_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$FERRITE_ROOT_SECRET_KEY
start_server() { # NAME ARGS...: prints the endpoint
  local name=$1; shift
  RUST_LOG=warn "$ferrite" serve --listen 127.0.0.1:0 --data-dir "$work/$name" "$@" \
    >"$work/$name.stdout" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 300); do grep -q '^listening on ' "$work/$name.stdout" && break; sleep 0.1; done
  grep -q '^listening on ' "$work/$name.stdout" || { cat "$work/$name.log" >&2; exit 1; }
  echo "http://$(sed -n 's/^listening on //p' "$work/$name.stdout")"
}
embedded=$(start_server embedded)
gw1=$(start_server gw1 --meta "$meta" --blobs "$blobs")
# Gateways sharing a store share the master key (the first generated it).
gw2=$(start_server gw2 --meta "$meta" --blobs "$blobs" --kms-master-key-file "$work/gw1/master.key")

load() { # FILE ENDPOINT ARGS... (a --duration among ARGS wins over BENCH_DURATION)
  local file=$1 ep=$2; shift 2
  local d=(--duration "$duration")
  [[ " $* " == *" --duration "* ]] && d=()
  "$bench" --endpoint "$ep" "${d[@]}" --label "$file" --json "$runs/$file.json" "$@" >&2
}
workloads=(
  "put-4k|--op put --size 4KiB|16"
  "get-4k|--op get --size 4KiB --objects 2000|16"
  "put-64m|--op put --size 64MiB --duration 5s|4"
  "get-64m|--op get --size 64MiB --objects 8 --duration 5s|4"
)
for w in "${workloads[@]}"; do
  IFS='|' read -r name args conc <<<"$w"
  echo "== $name" >&2
  # shellcheck disable=SC2086
  load "$name.embedded" "$embedded" $args --concurrency "$conc" --bucket "b-$name"
  # shellcheck disable=SC2086
  load "$name.cluster-1" "$gw1" $args --concurrency "$conc" --bucket "c1-$name"
  # Two gateways, one load generator each at half the concurrency, at once: the
  # second reads the objects the first prepared (same bucket, prepared once).
  half=$((conc / 2))
  if [[ $name == get-* ]]; then
    # shellcheck disable=SC2086
    load "$name.prep" "$gw1" ${args/--duration 5s/} --concurrency "$half" --bucket "c2-$name" --duration 1s
    extra=(--no-prepare)
  else
    extra=()
  fi
  # shellcheck disable=SC2086
  load "$name.cluster-2a" "$gw1" $args --concurrency "$half" --bucket "c2-$name" "${extra[@]}" &
  a=$!
  # shellcheck disable=SC2086
  load "$name.cluster-2b" "$gw2" $args --concurrency "$half" --bucket "c2-$name" "${extra[@]}" &
  b=$!
  wait "$a" "$b"
done

# The latency a failover adds: scripts/cluster-test.sh (synchronous mode; it needs
# root for its network namespaces) logs the time from each fault to the first
# acknowledged write sent after it. BENCH_FAILOVER=0 skips it.
failover=""
if [ "${BENCH_FAILOVER:-1}" = 1 ] && [ "$(id -u)" = 0 ]; then
  stop_all
  CLUSTER_TEST_MODES=sync scripts/cluster-test.sh >&2
  failover=$root/target/cluster-test/sync-verify.json
fi

python3 - "$runs" "$out/$stamp-cluster" "$duration" "$failover" <<'PY'
import json, sys, os, platform
runs, base, duration, failover = sys.argv[1:5]
def r(f):
    return json.load(open(os.path.join(runs, f + ".json")))
rows = []
for name in ["put-4k", "get-4k", "put-64m", "get-64m"]:
    e, c1 = r(name + ".embedded"), r(name + ".cluster-1")
    a, b = r(name + ".cluster-2a"), r(name + ".cluster-2b")
    c2_ops = a["ops_per_sec"] + b["ops_per_sec"]
    c2_mib = a["mib_per_sec"] + b["mib_per_sec"]
    errors = e["errors"] + c1["errors"] + a["errors"] + b["errors"]
    rows.append(dict(workload=name, embedded_ops=e["ops_per_sec"], embedded_mib=e["mib_per_sec"],
                     embedded_p99=e["latency_ms"]["p99"], cluster1_ops=c1["ops_per_sec"],
                     cluster1_mib=c1["mib_per_sec"], cluster1_p99=c1["latency_ms"]["p99"],
                     cluster2_ops=c2_ops, cluster2_mib=c2_mib,
                     cluster2_p99=max(a["latency_ms"]["p99"], b["latency_ms"]["p99"]), errors=errors))
json.dump(dict(duration=duration, cores=os.cpu_count(), rows=rows), open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# Cluster benchmark ({os.path.basename(base)})\n\n")
    f.write(f"{os.cpu_count()} cores, {duration} per run; PostgreSQL 15, Ceph 16 (3 memstore OSDs, size 3), "
            "gateways and load generators all on this machine (bench/cluster.sh).\n\n")
    f.write("| workload | embedded ops/s | MiB/s | p99 ms | 1 gateway ops/s | MiB/s | p99 ms | 2 gateways ops/s | MiB/s | p99 ms | errors |\n")
    f.write("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    for x in rows:
        f.write(f"| {x['workload']} | {x['embedded_ops']:.0f} | {x['embedded_mib']:.1f} | {x['embedded_p99']:.1f} "
                f"| {x['cluster1_ops']:.0f} | {x['cluster1_mib']:.1f} | {x['cluster1_p99']:.1f} "
                f"| {x['cluster2_ops']:.0f} | {x['cluster2_mib']:.1f} | {x['cluster2_p99']:.1f} | {x['errors']} |\n")
    if failover:
        f.write("\nFailover (scripts/cluster-test.sh: Patroni synchronous strict, ttl 10 s, 3 gateways, one load\n"
                "generator of 8 workers): time from each fault to the first acknowledged write sent after it.\n\n")
        f.write("| fault | first acknowledged write after (ms) | client errors in the next 30 s |\n| --- | --- | --- |\n")
        for e in json.load(open(failover))["events"]:
            f.write(f"| {e['event']} | {e['first_ack_after_ms']} | {e['errors_in_next_30s']} |\n")
print(open(base + ".md").read())
PY
