#!/usr/bin/env bash
# Ferrite's standard benchmark suite.
#
#   bench/run.sh                  # the full suite, 10 s per workload
#   BENCH_DURATION=5s bench/run.sh
#   BENCH_ONLY="put-4k get-4k" bench/run.sh   # some workloads
#   FERRITE_EXTRA_ARGS=--no-fsync bench/run.sh  # the at-your-own-risk mode
#   FERRITE_BIN=/path/to/ferrite bench/run.sh   # another build of the server (A/B runs)
#   BENCH_PAIR_ROUNDS=6 bench/run.sh            # paired variants alternated 6 times (see below)
#   BENCH_PIN=1 bench/run.sh                    # server on CPU 0, the client on the others
#   BENCH_PUT64_ROUNDS=4 BENCH_DURATION=5s BENCH_ONLY="put-64m put-64m-sse" bench/run.sh
#   BENCH_CLUSTER=1 bench/run.sh                # the cluster mode (bench/cluster.sh)
#
# Builds Ferrite and ferrite-bench in release mode, measures the box's physical
# limits (sequential write+fdatasync bandwidth with dd, single-core MD5 rate), starts
# Ferrite on a temporary data dir under target/ (the project's disk) with the durable
# default, runs each workload with ferrite-bench, records the server's peak RSS and
# CPU time, and writes bench/results/<UTC time>.{json,md} (and latest.{json,md}).
# Only loopback traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_CLUSTER=1: the cluster mode (embedded vs one and two gateways over PostgreSQL
# and Ceph RADOS), in bench/cluster.sh.
if [ "${BENCH_CLUSTER:-0}" = 1 ]; then
  exec bench/cluster.sh "$@"
fi
root=$(pwd)
duration=${BENCH_DURATION:-10s}
only=${BENCH_ONLY:-}
pair_rounds=${BENCH_PAIR_ROUNDS:-1}
# BENCH_PIN=1: the server runs on CPU 0 and the load generator on the other CPUs
# (taskset), so the two do not take each other's core: slower, but the server's CPU
# time per operation varies far less from run to run on a small shared box.
server_pin=() client_pin=()
if [ "${BENCH_PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
  server_pin=(taskset -c 0) client_pin=(taskset -c "1-$(($(nproc) - 1))")
fi
out="$root/bench/results"
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

cargo build --release -p ferrite -p ferrite-bench >&2
bench="$root/target/release/ferrite-bench"
mkdir -p "$root/target/bench"
work=$(mktemp -d -p "$root/target/bench")
runs="$work/runs"
mkdir -p "$runs"

# Physical limits, measured in this run.
dd if=/dev/zero of="$work/dd.bin" bs=1M count=1024 conv=fdatasync 2>"$work/dd.txt"
rm -f "$work/dd.bin"
disk_mib=$(python3 - "$work/dd.txt" <<'PY'
import re, sys
line = open(sys.argv[1]).read().strip().splitlines()[-1]
m = re.search(r"([\d.]+) s, ([\d.]+) ([kMG]B)/s", line)
secs = float(m.group(1))
print(f"{1024 / secs:.1f}")
PY
)
"$bench" --op md5 --size 64MiB --duration 3s --json "$runs/md5.json" >&2
md5_mib=$(jq '.mib_per_sec' "$runs/md5.json")
cores=$(nproc)
# For context, not for the floor: MD5 on every core at once (cores can share caches,
# power and the host's time, so this can fall short of one core's rate x cores).
md5_pids=()
for i in $(seq "$cores"); do
  "$bench" --op md5 --size 64MiB --duration 3s --json "$runs/md5-all-$i.json" >&2 &
  md5_pids+=($!)
done
wait "${md5_pids[@]}"
md5_all_mib=$(jq -s 'map(.mib_per_sec) | add' "$runs"/md5-all-*.json)

export FERRITE_ROOT_ACCESS_KEY=BENCHACCESSKEY000001 FERRITE_ROOT_SECRET_KEY=bench-secret-key-for-local-runs-00000001
export AWS_ACCESS_KEY_ID=$FERRITE_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$FERRITE_ROOT_SECRET_KEY
# shellcheck disable=SC2086
server_bin=${FERRITE_BIN:-$root/target/release/ferrite}
# A 4-second lifecycle day makes the lifecycle worker pass every second (the
# lifecycle scenario's rule is dated, so the day length changes nothing else).
# STANDARD_IA lives on a tier of its own (another directory on the same disk): the
# tier variants below measure what placing a class on a tier costs.
RUST_LOG=warn "${server_pin[@]}" "$server_bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --lifecycle-day-secs 4 \
  --tier "bench-ia=$work/tier-ia" --class-tier STANDARD_IA=bench-ia ${FERRITE_EXTRA_ARGS:-} \
  >"$work/stdout" 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$work/stdout" && break; sleep 0.1; done
endpoint="http://$(sed -n 's/^listening on //p' "$work/stdout")"

want() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
# The 64 MiB PUTs start from an emptied page cache (BENCH_DROP_CACHES=1, the default
# when /proc/sys/vm/drop_caches is writable, that is as root): each writes gigabytes
# through the page cache, and on the VM these benchmarks run on, once the guest's
# page cache grows past ~10 GiB every new page costs the host 7-10 us to back
# (measured: first touch of 8 GB of fresh memory 2.2 us/page, of 12 GB 7-10 us/page),
# about 150 ms of system time per 64 MiB, charged to whichever run happens to be
# writing then (it made the first SSE-S3 round cost 187 ms of system time per object
# against plaintext's 53; with the cache dropped before each run, 49 vs 47).
drop_caches=${BENCH_DROP_CACHES:-auto}
if [ "$drop_caches" = auto ]; then
  if [ -w /proc/sys/vm/drop_caches ]; then drop_caches=1; else drop_caches=0; fi
fi
settle() { # before a run that writes gigabytes
  if [ "$drop_caches" = 1 ]; then
    sync
    echo 1 >/proc/sys/vm/drop_caches
  fi
}
run() { # NAME [--file FILE] ARGS...: one workload, recorded in FILE.json (default NAME)
  local name=$1 file=$1; shift
  if [ "${1:-}" = --file ]; then file=$2; shift 2; fi
  want "$name" || return 0
  case $name in put-64m*) settle ;; esac
  echo "== $file" >&2
  local before after
  before=$(server_ticks)
  "${client_pin[@]}" "$bench" --endpoint "$endpoint" --duration "${run_duration:-$duration}" --label "$name" --json "$runs/$file.json" "$@" >&2
  after=$(server_ticks)
  # The server's CPU time (user + system) over the run, prepare phase included.
  echo $((after - before)) >"$runs/$file.ticks"
  # The server's peak RSS so far (it only grows): the run it grew in is the one that
  # set the suite's peak (reported as peak_rss_mib_after per run).
  awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" >"$runs/$file.hwm"
}
server_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

run put-4k --op put --size 4KiB --concurrency 16
run get-4k --op get --size 4KiB --concurrency 16 --objects 5000
# The same with SSE-S3 (every object sealed under its own data key), right after the
# plain runs so that both meet a store of about the same size. The goal is at least
# 0.90 of the plain figure.
run put-4k-sse --op put --size 4KiB --concurrency 16 --bucket ferrite-bench-sse --sse
run get-4k-sse --op get --size 4KiB --concurrency 16 --objects 5000 --bucket ferrite-bench-sse --sse
# And with SSE-KMS under a bucket key (the default KMS key): per object the same
# sealing as SSE-S3 plus a KMS key state check; the bucket key saves the KMS
# operation per object. Reported against plaintext like SSE-S3.
run put-4k-kms --op put --size 4KiB --concurrency 16 --bucket ferrite-bench-kms --sse-kms
run get-4k-kms --op get --size 4KiB --concurrency 16 --objects 5000 --bucket ferrite-bench-kms --sse-kms
# With BENCH_PAIR_ROUNDS=N the plain, SSE-S3 and SSE-KMS 4 KiB variants run N-1 more
# rounds, alternated (the order flipped every round; PUTs into a bucket of the round,
# GETs reading round 1's objects again); the ratios are taken over all rounds.
for round in $(seq 2 "$pair_rounds"); do
  order="sse plain kms"
  [ $((round % 2)) = 0 ] && order="kms plain sse"
  for op in put get; do
    for v in $order; do
      case $v in
        plain) name=$op-4k bucket=ferrite-bench extra=() ;;
        sse) name=$op-4k-sse bucket=ferrite-bench-sse extra=(--sse) ;;
        kms) name=$op-4k-kms bucket=ferrite-bench-kms extra=(--sse-kms) ;;
      esac
      if [ "$op" = put ]; then
        run "$name" --file "$name.r$round" --op put --size 4KiB --concurrency 16 --bucket "$bucket-put-r$round" "${extra[@]}"
      else
        run "$name" --file "$name.r$round" --op get --size 4KiB --concurrency 16 --objects 5000 --no-prepare \
          --bucket "$bucket" "${extra[@]}"
      fi
    done
  done
done
# The same two as a user (made with `ferrite admin`, in a bucket of its own): the cost
# of looking up a user's key and authorizing every request (root skips the lookup).
# The goal is within 3% of root's throughput.
admin() { "$server_bin" admin --endpoint "$endpoint" --json "$@"; }
if want put-4k-user || want get-4k-user || want put-4k-acl || want get-4k-acl; then
  admin user add benchuser >/dev/null
  user_key=$(admin key add benchuser)
fi
# The baseline of the policy variants: the same user (no policies) in a bucket root
# owns, with no policy either, writing there through an ACL grant (WRITE to
# AuthenticatedUsers): the same shape as the policy variants, minus the policies.
acl_bucket() { # NAME: root makes it and grants WRITE (a short unrecorded run)
  "$bench" --endpoint "$endpoint" --op put --size 4KiB --concurrency 1 --duration 1s \
    --bucket "$1" --grant-write-to-authenticated >/dev/null 2>&1
}
if want get-4k-acl; then
  acl_bucket ferrite-bench-acl
fi
# The same two for a user whose every request is decided by policies: 5 managed
# policies attached to it, and a 20-statement bucket policy on a bucket root owns (the
# user's access comes from one of its statements). The goal is within 5% of the acl
# variants (the same shape without policies).
if want put-4k-policy || want get-4k-policy; then
  admin user add policyuser >/dev/null
  policy_key=$(admin key add policyuser)
  for i in 1 2 3 4 5; do
    cat >"$work/user-policy-$i.json" <<JSON
{"Version":"2012-10-17","Statement":[
 {"Sid":"Home$i","Effect":"Allow","Action":["s3:ListBucket"],"Resource":"arn:aws:s3:::home-$i","Condition":{"StringLike":{"s3:prefix":["\${aws:username}/*"]}}},
 {"Sid":"Objects$i","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::home-$i/\${aws:username}/*"},
 {"Sid":"NoDelete$i","Effect":"Deny","Action":["s3:DeleteBucket","s3:PutBucketPolicy"],"Resource":"*"},
 {"Sid":"Office$i","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::reports-$i/*","Condition":{"IpAddress":{"aws:SourceIp":["10.$i.0.0/16","2001:db8:$i::/48"]}}}]}
JSON
    admin policy create "bench-$i" "$work/user-policy-$i.json" >/dev/null
    admin policy attach policyuser "bench-$i" >/dev/null
  done
fi
policy_bucket() { # NAME: root makes it and sets its 20-statement policy (a short unrecorded run)
  python3 - "$work/bucket-policy-$1.json" "$1" <<'PY'
import json, sys
b = "arn:aws:s3:::" + sys.argv[2]
st = []
for i in range(19):
    if i % 3 == 0:
        st.append({"Sid": f"Public{i}", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": f"{b}/public-{i}/*", "Condition": {"StringLike": {"aws:Referer": [f"https://site-{i}.example/*"]}}})
    elif i % 3 == 1:
        st.append({"Sid": f"Protect{i}", "Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteObject", "s3:PutObjectAcl"],
                   "Resource": f"{b}/locked-{i}/*"})
    else:
        st.append({"Sid": f"Partner{i}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::000000000000:user/partner-{i}"},
                   "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [b, f"{b}/partner-{i}/*"],
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}, "NumericLessThanEquals": {"s3:max-keys": "1000"}}})
st.append({"Sid": "BenchUser", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/policyuser"},
           "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{b}/*"})
json.dump({"Version": "2012-10-17", "Statement": st}, open(sys.argv[1], "w"))
PY
  "$bench" --endpoint "$endpoint" --op put --size 4KiB --concurrency 1 --duration 1s \
    --bucket "$1" --bucket-policy "$work/bucket-policy-$1.json" >/dev/null 2>&1
}
if want get-4k-policy; then
  policy_bucket ferrite-bench-policy
fi
# The paired variants, alternated: on this kind of box one run of each differs by up to
# +-10% from the next (the store grows, the host's load moves), more than the 5% the
# comparison is about. With BENCH_PAIR_ROUNDS=N each pair runs N times, the order
# flipped every round; the ratio is taken over the sums of all rounds. Round 1 writes
# NAME.json (the table), later rounds NAME.rK.json. PUTs write into buckets of the
# round, made in the round's order: object keys sort by bucket, and which bucket came
# first moved the PUT ratio by several percent (0.93 vs 0.98) in an otherwise equal run.
as_user() { # KEY_JSON NAME ARGS...: one run with that user's key
  local key=$1; shift
  (
    AWS_ACCESS_KEY_ID=$(jq -r .access_key_id <<<"$key")
    AWS_SECRET_ACCESS_KEY=$(jq -r .secret_access_key <<<"$key")
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    run "$@"
  )
}
for op in put get; do
  for round in $(seq "$pair_rounds"); do
    order="user acl policy"
    [ $((round % 2)) = 0 ] && order="policy acl user"
    for who in $order; do
      name=$op-4k-$who
      want "$name" || continue
      [ "$round" = 1 ] && file=$name || file=$name.r$round
      case $who in
        user) key=$user_key bucket=ferrite-bench-user ;;
        acl) key=$user_key bucket=ferrite-bench-acl ;;
        policy) key=$policy_key bucket=ferrite-bench-policy ;;
      esac
      if [ "$op" = put ]; then
        bucket=$bucket-put-r$round
        case $who in
          acl) acl_bucket "$bucket" ;;
          policy) policy_bucket "$bucket" ;;
        esac
      fi
      if [ "$op" = put ]; then
        args=(--op put)
      else
        args=(--op get --objects 5000 --no-prepare)
        # The objects the reads read, written once by a short run that is not
        # recorded (its writes would count in the first round's server CPU).
        [ "$round" = 1 ] && run_duration=1s as_user "$key" "$name" --file "$name.prepare" --op get \
          --objects 5000 --size 4KiB --concurrency 16 --bucket "$bucket"
      fi
      as_user "$key" "$name" --file "$file" "${args[@]}" --size 4KiB --concurrency 16 --bucket "$bucket"
    done
  done
done
run head-4k --op head --size 4KiB --concurrency 16 --objects 5000 --no-prepare
run delete-4k --op delete --size 4KiB --concurrency 16 --objects 60000 --bucket ferrite-bench-delete
run put-64m --op put --size 64MiB --concurrency 4
# Each 64 MiB GET variant first writes its 8 objects and reads them for 2 s,
# unrecorded (FILE.warm0), so a recorded run is reads alone: its server CPU per
# operation no longer includes writing the objects. (The first round still differs
# from the later ones, which read objects the page cache was emptied of and that were
# read back from the disk: plaintext's first round has run 10-25% below its later
# rounds in most runs, SSE-S3's not; the ratio is taken over every round, and the
# rounds are listed.)
get64() { # NAME ARGS...: the warm-up and the recorded first round of a 64 MiB GET
  local name=$1; shift
  run_duration=2s run "$name" --file "$name.warm0" --op get --size 64MiB --concurrency 4 --objects 8 "$@"
  run "$name" --op get --size 64MiB --concurrency 4 --objects 8 --no-prepare "$@"
}
get64 get-64m
# A class on a tier (STANDARD_IA on bench-ia): the same write and read paths into
# another blob store; goal at least 0.95 of the data dir's figure. Small objects on a
# tier are files (never inline in the metadata store: the tier holds the class's
# bytes), so put-4k-ia pays a file per object where put-4k does not; reported as is.
run put-64m-ia --op put --size 64MiB --concurrency 4 --bucket ferrite-bench-ia64 --storage-class STANDARD_IA
get64 get-64m-ia --bucket ferrite-bench-ia64 --storage-class STANDARD_IA
run put-4k-ia --op put --size 4KiB --concurrency 16 --bucket ferrite-bench-ia --storage-class STANDARD_IA
run get-4k-ia --op get --size 4KiB --concurrency 16 --objects 5000 --bucket ferrite-bench-ia --storage-class STANDARD_IA
run put-64m-sse --op put --size 64MiB --concurrency 4 --bucket ferrite-bench-sse64 --sse
get64 get-64m-sse --bucket ferrite-bench-sse64 --sse
# BENCH_PUT64_ROUNDS=N: N-1 more rounds of the two 64 MiB PUTs, alternated (not with
# BENCH_PAIR_ROUNDS: each round writes gigabytes; a short BENCH_DURATION keeps the
# disk in bounds). The SSE-S3 ratio below is taken over every round.
for round in $(seq 2 "${BENCH_PUT64_ROUNDS:-1}"); do
  order="put-64m-sse put-64m"
  [ $((round % 2)) = 0 ] && order="put-64m put-64m-sse"
  for name in $order; do
    case $name in
      put-64m) bucket=ferrite-bench extra=() ;;
      *) bucket=ferrite-bench-sse64 extra=(--sse) ;;
    esac
    run "$name" --file "$name.r$round" --op put --size 64MiB --concurrency 4 --bucket "$bucket" "${extra[@]}"
  done
done
# More rounds of the 64 MiB GETs, alternated (BENCH_PAIR_ROUNDS, as above). The
# objects are read once first (unrecorded), since dropping the page cache before the
# PUT rounds took them out of it.
if [ "$pair_rounds" -ge 2 ] && [ "$drop_caches" = 1 ]; then
  for name in get-64m get-64m-sse; do
    case $name in
      get-64m) bucket=ferrite-bench extra=() ;;
      *) bucket=ferrite-bench-sse64 extra=(--sse) ;;
    esac
    run_duration=2s run "$name" --file "$name.warm" --op get --size 64MiB --concurrency 4 --objects 8 --no-prepare \
      --bucket "$bucket" "${extra[@]}"
  done
fi
for round in $(seq 2 "$pair_rounds"); do
  order="get-64m-sse get-64m"
  [ $((round % 2)) = 0 ] && order="get-64m get-64m-sse"
  for name in $order; do
    case $name in
      get-64m) bucket=ferrite-bench extra=() ;;
      *) bucket=ferrite-bench-sse64 extra=(--sse) ;;
    esac
    run "$name" --file "$name.r$round" --op get --size 64MiB --concurrency 4 --objects 8 --no-prepare \
      --bucket "$bucket" "${extra[@]}"
  done
done
# Lifecycle under load: 4 KiB GETs (the objects of get-4k) while the lifecycle worker
# expires 100,000 objects of another bucket (a rule whose date has passed), against
# the same GETs right before on the idle server. The goal: p99 within 2x of idle.
if want get-4k-lc-idle || want get-4k-lc-busy; then
  run_duration=1s run get-4k-lc-busy --file lc-prepare --op list --list-objects 100000 --concurrency 16 --bucket ferrite-bench-lc
  run get-4k-lc-idle --op get --size 4KiB --concurrency 16 --objects 5000
  cat >"$work/lifecycle.xml" <<XML
<LifecycleConfiguration><Rule><ID>expire-all</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Expiration><Date>$(date -u +%Y-%m-%dT00:00:00Z)</Date></Expiration></Rule></LifecycleConfiguration>
XML
  lc_expired() { curl -s "$endpoint/metrics" | awk '/^ferrite_lifecycle_objects_expired_total/ {n = $2} END {print n + 0}'; }
  expired_before=$(lc_expired)
  lc_start=$(date +%s.%N)
  # Sets the rule (the worker's next pass, within a second, starts expiring), then
  # reads while the worker runs.
  run get-4k-lc-busy --op get --size 4KiB --concurrency 16 --objects 5000 --no-prepare --lifecycle "$work/lifecycle.xml" \
    --lifecycle-bucket ferrite-bench-lc
  expired_during=$(( $(lc_expired) - expired_before ))
  echo "$expired_during $(python3 -c "import time; print(f'{time.time() - $lc_start:.1f}')")" >"$runs/lc-expired.txt"
  for _ in $(seq 600); do
    [ "$(( $(lc_expired) - expired_before ))" -ge 100000 ] && break
    sleep 1
  done
  echo "$(( $(lc_expired) - expired_before )) $(python3 -c "import time; print(f'{time.time() - $lc_start:.1f}')")" >>"$runs/lc-expired.txt"
fi
run multipart-256m --op multipart-put --size 256MiB --part-size 16MiB --concurrency 4
run list-100k --op list --concurrency 4 --list-objects 100000 --bucket ferrite-bench-list
run mixed-64k --op mixed --size 64KiB --concurrency 16 --objects 2000 --bucket ferrite-bench-mixed

# The server's own cost over the whole suite.
rss_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
ticks=$(getconf CLK_TCK)
cpu_s=$(awk -v t="$ticks" '{printf "%.1f", ($14 + $15) / t}' "/proc/$pid/stat")

python3 - "$runs" "$out" "$stamp" "$disk_mib" "$md5_mib" "$cores" "$rss_kib" "$cpu_s" "$md5_all_mib" "${FERRITE_EXTRA_ARGS:-}" "${#server_pin[@]}" "$drop_caches" <<'PY'
import json, os, platform, sys
runs, out, stamp, disk, md5, cores, rss_kib, cpu_s, md5_all, extra, pinned, dropped = sys.argv[1:]
disk, md5, cores, md5_all = float(disk), float(md5), int(cores), float(md5_all)
limit_64m = min(md5 * cores, disk)
# Floors from the benchmark issue (durable default). kind: ops = ops/s, mib = MiB/s.
floors = {
    "put-4k": ("ops", 4000), "get-4k": ("ops", 12000), "head-4k": ("ops", 15000),
    "put-64m": ("mib", 0.8 * limit_64m), "get-64m": ("mib", 1.5e9 / 2**20),
    "list-100k": ("ops", 500),
}
order = ["put-4k", "get-4k", "put-4k-sse", "get-4k-sse", "put-4k-kms", "get-4k-kms", "put-4k-user", "get-4k-user", "put-4k-acl", "get-4k-acl", "put-4k-policy", "get-4k-policy", "head-4k", "delete-4k", "put-64m", "get-64m", "put-64m-ia", "get-64m-ia", "put-4k-ia", "get-4k-ia", "put-64m-sse", "get-64m-sse", "multipart-256m", "list-100k", "mixed-64k", "get-4k-lc-idle", "get-4k-lc-busy"]
results = []
ticks_per_s = os.sysconf("SC_CLK_TCK")


def load(file):
    r = json.load(open(os.path.join(runs, file + ".json")))
    t = os.path.join(runs, file + ".ticks")
    # Server CPU per operation: what a workload costs the server, whatever else the
    # box runs (the client shares it). Reads that prepare their objects count the
    # prepare phase too, so compare like with like.
    if os.path.exists(t) and r["ops"] > 0:
        r["server_cpu_us_per_op"] = int(open(t).read()) / ticks_per_s * 1e6 / r["ops"]
    h = os.path.join(runs, file + ".hwm")
    if os.path.exists(h):
        r["peak_rss_mib_after"] = round(int(open(h).read()) / 1024, 1)
    return r


for name in order:
    if os.path.exists(os.path.join(runs, name + ".json")):
        results.append(load(name))
cpu = platform.processor() or platform.machine()
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
doc = {
    "time": stamp, "machine": {"cpu": cpu, "cores": cores, "memory_gib": round(mem_gib, 1)},
    "mode": extra or "durable (fsync before acknowledging)",
    "pinned": pinned != "0",
    "page_cache_dropped_before_64m_puts": dropped == "1",
    "limits": {"disk_write_fdatasync_mib_s": disk, "md5_one_core_mib_s": md5, "put_64m_limit_mib_s": limit_64m,
               "md5_all_cores_at_once_mib_s": md5_all},
    "server": {"peak_rss_mib": round(int(rss_kib) / 1024, 1), "cpu_seconds": float(cpu_s)},
    "results": results,
}
lines = [
    f"# Ferrite benchmark {stamp}",
    "",
    f"Machine: {cpu}, {cores} cores, {mem_gib:.0f} GiB; client and server on the same box, loopback.",
    f"Mode: {doc['mode']}." + (" Pinned (BENCH_PIN=1): the server on CPU 0, the client on the others." if doc["pinned"] else "")
    + (" Page cache dropped before each 64 MiB PUT run." if dropped == "1" else ""),
    f"Physical limits measured in this run: disk sequential write + fdatasync {disk:.0f} MiB/s (dd, 1 GiB); "
    f"MD5 {md5:.0f} MiB/s on one core; 64 MiB PUT limit min(MD5 x {cores}, disk) = {limit_64m:.0f} MiB/s "
    f"(for context: {cores} MD5 processes at once made {md5_all:.0f} MiB/s together).",
    f"Server over the whole suite: peak RSS {int(rss_kib) / 1024:.1f} MiB, CPU {float(cpu_s):.1f} s.",
    "",
    "| workload | concurrency | ops/s | MiB/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU us/op | floor |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
]
for r in results:
    name = r["label"]
    floor = ""
    if name in floors:
        kind, value = floors[name]
        got = r["ops_per_sec"] if kind == "ops" else r["mib_per_sec"]
        unit = "ops/s" if kind == "ops" else "MiB/s"
        floor = f"{'met' if got >= value else 'MISSED'} (>= {value:.0f} {unit})"
    l = r["latency_ms"]
    cpu = f"{r['server_cpu_us_per_op']:.1f}" if "server_cpu_us_per_op" in r else ""
    lines.append(
        f"| {name} | {r['concurrency']} | {r['ops_per_sec']:.0f} | {r['mib_per_sec']:.1f} | {l['p50']:.2f} | "
        f"{l['p90']:.2f} | {l['p99']:.2f} | {l['max']:.1f} | {r['errors']} | {cpu} | {floor} |"
    )
by_name = {r["label"]: r for r in results}
# SSE-S3 and SSE-KMS against plaintext, measured in the same run, over every round
# of the pair (goal: >= 0.90 of plaintext, and the server's peak RSS under 150 MiB).
def all_rounds(name):
    files = [name] + [f"{name}.r{k}" for k in range(2, 1000)]
    return [load(f) for f in files if os.path.exists(os.path.join(runs, f + ".json"))]


for op in ("put-4k", "get-4k", "put-64m", "get-64m"):
    base = all_rounds(op)
    for suffix, what in (("-sse", "SSE-S3"), ("-kms", "SSE-KMS (bucket key)")):
        enc = all_rounds(op + suffix)
        n = min(len(base), len(enc))
        if n == 0 or sum(r["ops_per_sec"] for r in base[:n]) <= 0:
            continue
        ratio = sum(r["ops_per_sec"] for r in enc[:n]) / sum(r["ops_per_sec"] for r in base[:n])
        cpu = ""
        b_ops, e_ops = sum(r["ops"] for r in base[:n]), sum(r["ops"] for r in enc[:n])
        if all(r.get("server_cpu_us_per_op") for r in base[:n] + enc[:n]) and b_ops and e_ops:
            b_cpu = sum(r["server_cpu_us_per_op"] * r["ops"] for r in base[:n]) / b_ops
            e_cpu = sum(r["server_cpu_us_per_op"] * r["ops"] for r in enc[:n]) / e_ops
            cpu = f"; server CPU per op {e_cpu:.1f} us vs {b_cpu:.1f} us"
        lines.append(f"\n{op} with {what}: {ratio:.3f} of the plaintext throughput over {n} round(s) (goal: >= 0.90){cpu}")
        if n > 1:
            lines.append(f"- by round (ops/s): plain " + ", ".join(f"{r['ops_per_sec']:.0f}" for r in base[:n])
                         + f"; {what} " + ", ".join(f"{r['ops_per_sec']:.0f}" for r in enc[:n]))
            later = sum(r["ops_per_sec"] for r in enc[1:n]) / max(sum(r["ops_per_sec"] for r in base[1:n]), 1e-9)
            lines.append(f"- rounds 2-{n} alone: {later:.3f}")
if any(r["label"].endswith("-sse") for r in results):
    lines.append(f"Peak RSS over the suite: {int(rss_kib) / 1024:.1f} MiB (goal with SSE: < 150 MiB)")
# Which run the peak grew in: the server's peak RSS after each run (every round,
# in the order they ran), and the first run after which it stood at its final value.
hwm = []
for f in os.listdir(runs):
    if f.endswith(".hwm"):
        path = os.path.join(runs, f)
        hwm.append((os.path.getmtime(path), f[:-4], int(open(path).read()) / 1024))
hwm.sort()
if hwm:
    top = max(m for _, _, m in hwm)
    setter = next(name for _, name, m in hwm if m == top)
    grew = []
    last = 0.0
    for _, name, m in hwm:
        if m - last >= 1:
            grew.append(f"{name} {m:.1f}")
        last = m
    doc["server"]["peak_rss_set_by"] = setter
    lines.append(f"\nPeak RSS {top:.1f} MiB was reached in run {setter}; it grew (by 1 MiB or more) after: " + ", ".join(grew))
for op in ("put-4k", "get-4k"):
    base, user = by_name.get(op), by_name.get(op + "-user")
    if base and user and base["ops_per_sec"] > 0:
        ratio = user["ops_per_sec"] / base["ops_per_sec"]
        lines.append(f"\n{op} as a user: {ratio:.3f} of root's throughput (goal: >= 0.97)")
    # The policy variants against their own baseline (same bucket shape, no policies)
    # when it ran, else against the user in its own bucket.
    base = "acl" if os.path.exists(os.path.join(runs, f"{op}-acl.json")) else "user"
    rounds = {}
    for who in (base, "policy"):
        files = [f"{op}-{who}"] + [f"{op}-{who}.r{k}" for k in range(2, 1000)]
        rounds[who] = [load(f) for f in files if os.path.exists(os.path.join(runs, f + ".json"))]
    if rounds[base] and rounds["policy"]:
        n = min(len(rounds[base]), len(rounds["policy"]))
        tput = {w: sum(r["ops_per_sec"] for r in rs) for w, rs in rounds.items()}
        # Server CPU per op over all rounds (the first GET round's prepare phase
        # is counted for both alike).
        cpu = {w: sum(r.get("server_cpu_us_per_op", 0) * r["ops"] for r in rs) / max(1, sum(r["ops"] for r in rs))
               for w, rs in rounds.items()}
        ratio = tput["policy"] / tput[base] if tput[base] > 0 else 0
        lines.append(f"\n{op} under policies: {ratio:.3f} of {op}-{base}'s throughput (no policies) over {n} alternated round(s) (goal: >= 0.95)")
        if cpu[base] > 0:
            lines.append(f"{op} under policies: server CPU per op {cpu['policy']:.1f} us vs {cpu[base]:.1f} us, "
                         f"{cpu['policy'] / cpu[base]:.3f} (the cost the goal is about, steadier than throughput on a shared box)")
        if n > 1:
            doc.setdefault("paired_rounds", {})[op] = {
                w: [{"ops_per_sec": r["ops_per_sec"], "server_cpu_us_per_op": r.get("server_cpu_us_per_op")} for r in rs]
                for w, rs in rounds.items()}
            for who in (base, "policy"):
                lines.append(f"- {op}-{who} by round (ops/s, server us/op): " + ", ".join(
                    f"{r['ops_per_sec']:.0f}/{r.get('server_cpu_us_per_op', 0):.0f}" for r in rounds[who]))
for plain, tier in (("put-64m", "put-64m-ia"), ("get-64m", "get-64m-ia"), ("put-4k", "put-4k-ia"), ("get-4k", "get-4k-ia")):
    p, t = by_name.get(plain), by_name.get(tier)
    if p and t and p["ops_per_sec"] > 0:
        goal = " (goal: >= 0.95)" if "64m" in plain else " (no goal: a file per object on a tier, inline in the data dir)"
        lines.append(f"\n{tier} (STANDARD_IA on a tier): {t['ops_per_sec'] / p['ops_per_sec']:.3f} of {plain}'s throughput{goal}")
idle, busy = by_name.get("get-4k-lc-idle"), by_name.get("get-4k-lc-busy")
if idle and busy and idle["latency_ms"]["p99"] > 0:
    ratio = busy["latency_ms"]["p99"] / idle["latency_ms"]["p99"]
    lines.append(f"\nget-4k p99 while the lifecycle worker expires 100,000 objects: {busy['latency_ms']['p99']:.2f} ms vs "
                 f"{idle['latency_ms']['p99']:.2f} ms idle, {ratio:.2f}x (goal: <= 2x); throughput "
                 f"{busy['ops_per_sec'] / max(idle['ops_per_sec'], 1e-9):.3f} of idle")
    lc = os.path.join(runs, "lc-expired.txt")
    if os.path.exists(lc):
        rows = [l.split() for l in open(lc).read().splitlines() if l.strip()]
        if rows:
            lines.append(f"- expired during the busy run: {rows[0][0]} objects; " + (
                f"all {rows[-1][0]} after {rows[-1][1]} s" if len(rows) > 1 else ""))
md = "\n".join(lines) + "\n"
for base in (stamp, "latest"):
    json.dump(doc, open(os.path.join(out, base + ".json"), "w"), indent=2)
    open(os.path.join(out, base + ".md"), "w").write(md)
print(md)
PY
