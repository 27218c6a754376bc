#!/usr/bin/env bash
# Runs Ceph's S3 compatibility suite (ceph/s3-tests) against a local Ferrite.
#
#   scripts/ceph-s3-tests.sh PATH_TO_S3_TESTS_CHECKOUT [pytest args...]
#
# The suite is not part of this repository: bring your own checkout. This script builds
# Ferrite in release mode, starts it on a free loopback port with a temporary data dir,
# writes an s3tests.conf for it, installs the suite's Python requirements into a venv
# under target/, and runs pytest. Extra arguments go to pytest (e.g. -k 'list_objects').
# Results: target/s3-tests/junit.xml and target/s3-tests/summary.txt.
# FERRITE_BIN=/path/to/ferrite runs that binary instead of building this tree (to
# compare releases: the failure lists of two runs can be diffed). CEPH_OUT names
# the results directory (default target/s3-tests). CEPH_TESTS names the suite's test
# files to run (default s3tests/functional/test_s3.py; e.g. also
# s3tests/functional/test_headers.py, which holds the SigV2 *_aws2 tests).
# CEPH_STORAGE_CLASSES="INTELLIGENT_TIERING GLACIER_IR" gives the suite storage classes
# beyond STANDARD (its transition tests need two; the copy_enc tests multiply by them)
# and places each on a tier of its own, so that transitions move bytes between tiers.
set -euo pipefail
suite=${1:?usage: $0 PATH_TO_S3_TESTS [pytest args...]}
shift
suite=$(cd "$suite" && pwd)
cd "$(dirname "$0")/.."
root=$(pwd)
out=${CEPH_OUT:-"$root/target/s3-tests"}
mkdir -p "$out"

bin=${FERRITE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -p ferrite
  bin="$root/target/release/ferrite"
fi
venv="$root/target/s3tests-venv"
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$suite/requirements.txt"
fi

data=$(mktemp -d)
# The suite's lifecycle tests count days in `lc_debug_interval` seconds (RGW's debug
# mode); the server's `--lifecycle-day-secs` is set to the same.
lc_interval=${CEPH_LC_INTERVAL:-2}
ak=S3TESTSACCESSKEY0001
sk=s3tests-secret-key-for-local-runs-only0001
classes=${CEPH_STORAGE_CLASSES:-}
# CEPH_SERVER_ARGS: more `ferrite serve` arguments, e.g. "--meta postgres://..." to run
# the suite with the metadata on PostgreSQL.
tier_args=()
for class in $classes; do
  tier=$(echo "$class" | tr 'A-Z_' 'a-z-')
  tier_args+=(--tier "$tier=$data/tier-$tier" --class-tier "$class=$tier")
done
FERRITE_ROOT_ACCESS_KEY=$ak FERRITE_ROOT_SECRET_KEY=$sk RUST_LOG=warn \
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$data/data" --lifecycle-day-secs "$lc_interval" "${tier_args[@]}" ${CEPH_SERVER_ARGS:-} \
  >"$data/stdout" 2>"$out/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 300); do
  grep -q '^listening on ' "$data/stdout" && break
  sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$data/stdout")
[ -n "$port" ] || { echo "ferrite did not start" >&2; exit 1; }

# The main user is root. The suite's "alt" and "tenant" users are real second users,
# created through the IAM API (as an operator would, with boto3 from the suite's venv);
# their canonical ids (what ACL grants name) are read back through S3.
make_user() {
  "$venv/bin/python" - "$1" "$port" "$ak" "$sk" <<'PY'
import sys, boto3
name, port, ak, sk = sys.argv[1:]
ep = f"http://127.0.0.1:{port}"
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=ak, aws_secret_access_key=sk)
iam.create_user(UserName=name)
key = iam.create_access_key(UserName=name)["AccessKey"]
s3 = boto3.client("s3", endpoint_url=ep, region_name="us-east-1",
                  aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
owner = s3.list_buckets()["Owner"]
print(key["AccessKeyId"], key["SecretAccessKey"], owner["ID"])
PY
}
read -r alt_ak alt_sk alt_id < <(make_user alt)
read -r ten_ak ten_sk ten_id < <(make_user tenant)
root_id=$(printf '%s' "$ak" | sha256sum | cut -d' ' -f1)
# The suite's SSE-KMS tests use two KMS keys (`kms_keyid`, `kms_keyid2`): made in the
# built-in KMS, named by ARN (what S3 answers in x-amz-server-side-encryption-aws-kms-key-id,
# which the suite compares with the configured value).
read -r kms_key1 kms_key2 < <("$venv/bin/python" - "$port" "$ak" "$sk" <<'PY'
import sys, boto3
port, ak, sk = sys.argv[1:]
kms = boto3.client("kms", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                   aws_access_key_id=ak, aws_secret_access_key=sk)
print(*(kms.create_key(Description=f"s3-tests key {n}")["KeyMetadata"]["Arn"] for n in (1, 2)))
PY
)

cat >"$out/s3tests.conf" <<CONF
[DEFAULT]
host = 127.0.0.1
port = $port
is_secure = False
ssl_verify = False
[fixtures]
bucket prefix = ferrite-{random}-
iam name prefix = s3-tests-
iam path prefix = /s3-tests/
[s3 main]
display_name = ferrite
user_id = $root_id
email = main@example.com
api_name = default
access_key = $ak
secret_key = $sk
kms_keyid = $kms_key1
kms_keyid2 = $kms_key2
lc_debug_interval = $lc_interval
storage_classes = ${classes// /, }
[s3 alt]
display_name = alt
user_id = $alt_id
email = alt@example.com
access_key = $alt_ak
secret_key = $alt_sk
[s3 tenant]
display_name = tenant
user_id = $ten_id
email = tenant@example.com
access_key = $ten_ak
secret_key = $ten_sk
tenant = tenant
[iam]
email = iam@example.com
user_id = ferrite
access_key = $ak
secret_key = $sk
display_name = ferrite
[iam root]
access_key = $ak
secret_key = $sk
user_id = ferrite
email = root@example.com
[iam alt root]
access_key = $ak
secret_key = $sk
user_id = ferrite
email = altroot@example.com
CONF

cd "$suite"
set +e
S3TEST_CONF="$out/s3tests.conf" "$venv/bin/pytest" -q -p no:cacheprovider \
  --junitxml="$out/junit.xml" ${CEPH_TESTS:-s3tests/functional/test_s3.py} "$@" | tee "$out/pytest.log" | tail -5
status=${PIPESTATUS[0]}
set -e
grep -E '^(FAILED|ERROR)' "$out/pytest.log" | sed 's/ - .*//' | sort >"$out/failed.txt" || true
tail -1 "$out/pytest.log" >"$out/summary.txt"
echo "summary: $(cat "$out/summary.txt")  (failures listed in $out/failed.txt)"
exit "$status"
