#!/usr/bin/env bash
# Drives a fresh local Ferrite with the clients users already have: the aws cli, boto3,
# s3cmd (from PyPI, into a venv under target/) and rclone (Debian's package).
# Each client creates a bucket, uploads (single-part and, for a 20 MiB file, multipart
# with the client's own settings), lists, downloads and compares, copies, deletes.
# The aws cli also manages a user and its keys through `aws iam` and uses the new key.
# `post` uploads browser-style (POST Object): boto3's generate_presigned_post with
# conditions, sent with requests, and a plain HTML-form-style anonymous POST.
# `tls` starts a second server with --tls-cert/--tls-key (a CA and a certificate made
# with openssl) and uses the aws cli over https with --ca-bundle, then replaces the
# certificate and sends SIGHUP: new connections get the new one.
# Prints one PASS/FAIL line per client; exits non-zero if any failed.
#
#   scripts/client-compat.sh            # all clients
#   scripts/client-compat.sh aws boto3  # some of them
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(aws boto3 s3cmd rclone post tls)

cargo build --release -p ferrite >/dev/null 2>&1 || { echo "build failed" >&2; exit 1; }
venv="$root/target/clients-venv"
if [ ! -x "$venv/bin/aws" ] || [ ! -x "$venv/bin/s3cmd" ] || ! "$venv/bin/python" -c 'import requests' 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q awscli boto3 s3cmd requests || { echo "pip install failed" >&2; exit 1; }
fi
if [[ " ${clients[*]} " == *" rclone "* ]] && ! command -v rclone >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq rclone) >/dev/null 2>&1 || echo "could not install rclone" >&2
fi
if [[ " ${clients[*]} " == *" tls "* ]] && ! command -v openssl >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq openssl) >/dev/null 2>&1 || echo "could not install openssl" >&2
fi

work=$(mktemp -d)
export FERRITE_ROOT_ACCESS_KEY=COMPATACCESSKEY00001 FERRITE_ROOT_SECRET_KEY=compat-secret-key-for-local-tests-000001
"$root/target/release/ferrite" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/stdout" 2>"$work/stderr" &
pid=$!
tls_pid=
trap 'kill $pid $tls_pid 2>/dev/null; wait $pid $tls_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$work/stdout" && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$work/stdout")
endpoint="http://$addr"
export AWS_ACCESS_KEY_ID=$FERRITE_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$FERRITE_ROOT_SECRET_KEY AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$work/aws-config"
# The aws cli's defaults: multipart above 8 MB, in 8 MB parts, several at a time.
: >"$AWS_CONFIG_FILE"

mkdir -p "$work/files"
head -c 3000 /dev/urandom >"$work/files/small.bin"
head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$work/files/large.bin"
head -c $((20 * 1024 * 1024 + 7)) /dev/urandom >"$work/files/multi.bin"
printf 'hello' >"$work/files/with space+plus.txt"

run_aws() {
  local aws="$venv/bin/aws --endpoint-url $endpoint"
  $aws s3 mb s3://cli-bucket &&
    $aws s3 cp "$work/files/small.bin" s3://cli-bucket/dir/small.bin &&
    $aws s3 cp "$work/files/large.bin" s3://cli-bucket/dir/large.bin &&
    $aws s3 cp "$work/files/with space+plus.txt" "s3://cli-bucket/with space+plus.txt" &&
    $aws s3 cp "$work/files/multi.bin" s3://cli-bucket/multi.bin &&
    $aws s3api head-object --bucket cli-bucket --key multi.bin | grep -q '"ETag": "\\"[0-9a-f]*-3\\""' &&
    $aws s3 cp s3://cli-bucket/multi.bin "$work/aws-multi.bin" && cmp "$work/files/multi.bin" "$work/aws-multi.bin" &&
    $aws s3 ls s3://cli-bucket --recursive >"$work/aws-ls.txt" && grep -q 'dir/large.bin' "$work/aws-ls.txt" &&
    $aws s3 cp s3://cli-bucket/dir/large.bin "$work/aws-large.bin" && cmp "$work/files/large.bin" "$work/aws-large.bin" &&
    $aws s3 cp "s3://cli-bucket/with space+plus.txt" "$work/aws-plus.txt" && cmp "$work/files/with space+plus.txt" "$work/aws-plus.txt" &&
    $aws s3api copy-object --bucket cli-bucket --key copy.bin --copy-source cli-bucket/dir/small.bin >/dev/null &&
    $aws s3api head-object --bucket cli-bucket --key copy.bin >/dev/null &&
    $aws s3 sync "$work/files" s3://cli-bucket/synced >/dev/null &&
    $aws s3 rm s3://cli-bucket --recursive >/dev/null &&
    $aws s3 rb s3://cli-bucket &&
    run_aws_iam &&
    run_aws_kms
}

# The built-in KMS through `aws kms` on the same endpoint.
run_aws_kms() {
  local aws="$venv/bin/aws --endpoint-url $endpoint"
  local id
  id=$($aws kms create-key --description cli-key --output text --query KeyMetadata.KeyId) &&
    [ ${#id} -eq 36 ] &&
    $aws kms list-keys --output text --query 'Keys[].KeyId' | grep -qw "$id" &&
    $aws kms describe-key --key-id "$id" --output text --query KeyMetadata.KeyState | grep -qx Enabled &&
    $aws kms create-alias --alias-name alias/cli-key --target-key-id "$id" &&
    $aws kms list-aliases --output text --query 'Aliases[].AliasName' | grep -qw alias/cli-key &&
    $aws kms describe-key --key-id alias/cli-key --output text --query KeyMetadata.KeyId | grep -qx "$id"
}

# Users and keys through `aws iam` on the same endpoint, and one S3 call with the new
# user's key.
run_aws_iam() {
  local aws="$venv/bin/aws --endpoint-url $endpoint"
  local key id secret
  $aws iam create-user --user-name cli-user | grep -q '"UserName": "cli-user"' &&
    key=$($aws iam create-access-key --user-name cli-user --output text \
      --query 'AccessKey.[AccessKeyId,SecretAccessKey]') &&
    read -r id secret <<<"$key" && [ ${#id} -eq 20 ] && [ ${#secret} -eq 40 ] &&
    $aws iam list-users --output text --query 'Users[].UserName' | grep -qw cli-user &&
    $aws iam list-access-keys --user-name cli-user --output text \
      --query 'AccessKeyMetadata[].[AccessKeyId,Status]' | grep -q "$id.*Active" &&
    AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret $aws s3 mb s3://cli-user-bucket &&
    AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret $aws s3api list-buckets --output text \
      --query 'Buckets[].Name' | grep -qx 'cli-user-bucket' &&
    $aws iam update-access-key --user-name cli-user --access-key-id "$id" --status Inactive &&
    ! AWS_ACCESS_KEY_ID=$id AWS_SECRET_ACCESS_KEY=$secret $aws s3api list-buckets >/dev/null 2>&1 &&
    $aws iam delete-access-key --user-name cli-user --access-key-id "$id" &&
    $aws s3 rb s3://cli-user-bucket &&
    $aws iam delete-user --user-name cli-user &&
    ! $aws iam get-user --user-name cli-user >/dev/null 2>&1
}

run_boto3() {
  ENDPOINT=$endpoint WORK=$work "$venv/bin/python" - <<'PY'
import os, hashlib, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"])
s3.create_bucket(Bucket="boto-bucket")
data = open(os.environ["WORK"] + "/files/large.bin", "rb").read()
r = s3.put_object(Bucket="boto-bucket", Key="k/large", Body=data, Metadata={"a": "b"}, ContentType="x/y")
assert r["ETag"].strip('"') == hashlib.md5(data).hexdigest()
g = s3.get_object(Bucket="boto-bucket", Key="k/large")
assert g["Body"].read() == data and g["Metadata"] == {"a": "b"} and g["ContentType"] == "x/y"
assert s3.get_object(Bucket="boto-bucket", Key="k/large", Range="bytes=10-19")["Body"].read() == data[10:20]
s3.copy_object(Bucket="boto-bucket", Key="k/copy", CopySource={"Bucket": "boto-bucket", "Key": "k/large"})
from boto3.s3.transfer import TransferConfig
tc = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
s3.upload_file(os.environ["WORK"] + "/files/multi.bin", "boto-bucket", "k/multi", Config=tc)
head = s3.head_object(Bucket="boto-bucket", Key="k/multi")
assert head["ETag"].strip('"').endswith("-5"), head["ETag"]
s3.download_file("boto-bucket", "k/multi", os.environ["WORK"] + "/boto-multi.bin", Config=tc)
assert open(os.environ["WORK"] + "/boto-multi.bin", "rb").read() == open(os.environ["WORK"] + "/files/multi.bin", "rb").read()
s3.delete_object(Bucket="boto-bucket", Key="k/multi")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="boto-bucket")["Contents"]]
assert keys == ["k/copy", "k/large"], keys
pages = list(s3.get_paginator("list_objects").paginate(Bucket="boto-bucket", PaginationConfig={"PageSize": 1}))
assert sum(len(p.get("Contents", [])) for p in pages) == 2
s3.delete_objects(Bucket="boto-bucket", Delete={"Objects": [{"Key": "k/copy"}, {"Key": "k/large"}]})
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto-bucket", "Key": "missing"})
assert url.startswith(os.environ["ENDPOINT"])
s3.delete_bucket(Bucket="boto-bucket")
PY
}

run_s3cmd() {
  local cfg="$work/s3cmd.cfg"
  printf '[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n' \
    "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$addr" "$addr" >"$cfg"
  local s3cmd="$venv/bin/s3cmd -c $cfg"
  $s3cmd mb s3://s3cmd-bucket >/dev/null &&
    $s3cmd put "$work/files/large.bin" s3://s3cmd-bucket/large.bin >/dev/null &&
    $s3cmd put --multipart-chunk-size-mb=5 "$work/files/multi.bin" s3://s3cmd-bucket/multi.bin >/dev/null &&
    $s3cmd get s3://s3cmd-bucket/multi.bin "$work/s3cmd-multi.bin" >/dev/null && cmp "$work/files/multi.bin" "$work/s3cmd-multi.bin" &&
    $s3cmd del s3://s3cmd-bucket/multi.bin >/dev/null &&
    $s3cmd ls s3://s3cmd-bucket >"$work/s3cmd-ls.txt" && grep -q large.bin "$work/s3cmd-ls.txt" &&
    $s3cmd get s3://s3cmd-bucket/large.bin "$work/s3cmd-large.bin" >/dev/null && cmp "$work/files/large.bin" "$work/s3cmd-large.bin" &&
    $s3cmd info s3://s3cmd-bucket/large.bin >/dev/null &&
    $s3cmd del s3://s3cmd-bucket/large.bin >/dev/null &&
    $s3cmd rb s3://s3cmd-bucket >/dev/null
}

run_rclone() {
  command -v rclone >/dev/null || return 1
  # The endpoint is plain HTTP; rclone's SDK cannot apply a CA bundle from the environment.
  unset AWS_CA_BUNDLE
  export RCLONE_CONFIG_FERRITE_TYPE=s3 RCLONE_CONFIG_FERRITE_PROVIDER=Other RCLONE_CONFIG_FERRITE_ENDPOINT=$endpoint
  export RCLONE_CONFIG_FERRITE_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_FERRITE_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
  # Multipart above 8 MiB, in 5 MiB chunks (rclone's defaults are 200M / 5M).
  export RCLONE_CONFIG_FERRITE_REGION=us-east-1 RCLONE_S3_UPLOAD_CUTOFF=8M RCLONE_S3_CHUNK_SIZE=5M
  rclone mkdir ferrite:rclone-bucket &&
    rclone copy "$work/files" ferrite:rclone-bucket/files &&
    rclone check "$work/files" ferrite:rclone-bucket/files &&
    rclone lsf -R ferrite:rclone-bucket >"$work/rclone-ls.txt" && grep -q 'files/large.bin' "$work/rclone-ls.txt" &&
    rclone purge ferrite:rclone-bucket
}

# POST Object, as browsers and SDK helpers send it.
run_post() {
  ENDPOINT=$endpoint WORK=$work "$venv/bin/python" - <<'PY'
import os, boto3, requests
ep = os.environ["ENDPOINT"]
s3 = boto3.client("s3", endpoint_url=ep)
s3.create_bucket(Bucket="post-bucket")
data = open(os.environ["WORK"] + "/files/large.bin", "rb").read()
# boto3's presigned POST (SigV4 policy) with conditions, sent with requests.
p = s3.generate_presigned_post("post-bucket", "uploads/${filename}",
    Fields={"acl": "private", "Content-Type": "application/x-test", "x-amz-meta-origin": "post"},
    Conditions=[{"acl": "private"}, ["starts-with", "$Content-Type", "application/"],
                {"x-amz-meta-origin": "post"}, ["content-length-range", 1, 10 * 1024 * 1024]],
    ExpiresIn=600)
r = requests.post(p["url"], data=p["fields"], files={"file": ("large.bin", data)})
assert r.status_code == 204, (r.status_code, r.text)
g = s3.get_object(Bucket="post-bucket", Key="uploads/large.bin")
assert g["Body"].read() == data and g["ContentType"] == "application/x-test", g
assert g["Metadata"] == {"origin": "post"}, g["Metadata"]
# Past its size range: refused, nothing stored.
p = s3.generate_presigned_post("post-bucket", "too-big", Conditions=[["content-length-range", 1, 100]], ExpiresIn=600)
r = requests.post(p["url"], data=p["fields"], files={"file": ("x", b"y" * 101)})
assert r.status_code == 400 and b"EntityTooLarge" in r.content, (r.status_code, r.text)
assert "Contents" not in s3.list_objects_v2(Bucket="post-bucket", Prefix="too-big")
# A plain HTML form (no policy) to a bucket everyone may write, 201 with its document.
s3.create_bucket(Bucket="post-public", ACL="public-read-write")
r = requests.post(ep + "/post-public", files=[("key", (None, "form.txt")), ("Content-Type", (None, "text/plain")),
                                              ("success_action_status", (None, "201")),
                                              ("file", ("form.txt", b"from a form", "text/plain"))])
assert r.status_code == 201 and b"<Key>form.txt</Key>" in r.content, (r.status_code, r.text)
g = s3.get_object(Bucket="post-public", Key="form.txt")
assert g["Body"].read() == b"from a form" and g["ContentType"] == "text/plain"
# The same form to a private bucket is refused.
s3.create_bucket(Bucket="post-private")
r = requests.post(ep + "/post-private", files=[("key", (None, "form.txt")), ("file", ("form.txt", b"x"))])
assert r.status_code == 403, (r.status_code, r.text)
for b in ["post-bucket", "post-public", "post-private"]:
    for o in s3.list_objects_v2(Bucket=b).get("Contents", []):
        s3.delete_object(Bucket=b, Key=o["Key"])
    s3.delete_bucket(Bucket=b)
PY
}

# A server certificate for 127.0.0.1 signed by a CA made for this run: $1 names it.
make_cert() {
  local dir=$work/tls name=$1
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/$name.key" \
    -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null &&
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
      -days 2 -out "$dir/$name.pem" -extfile <(printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
      'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
      'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid') 2>/dev/null &&
    chmod 600 "$dir/$name.key"
}

# The serial number of the certificate a new TLS connection to $1 is given.
served_serial() {
  openssl s_client -connect "$1" -CAfile "$work/tls/ca.pem" -verify_return_error </dev/null 2>/dev/null |
    openssl x509 -noout -serial
}

# HTTPS: a second server (its own data dir) with --tls-cert/--tls-key, the aws cli
# trusting the CA with --ca-bundle; then a certificate rotation with SIGHUP.
run_tls() {
  command -v openssl >/dev/null || { echo "openssl is missing"; return 1; }
  local dir=$work/tls
  mkdir -p "$dir" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
      -days 2 -subj "/CN=Ferrite compat CA" 2>/dev/null &&
    make_cert first && make_cert second &&
    cp "$dir/first.pem" "$dir/server.pem" && cp "$dir/first.key" "$dir/server.key" || return 1
  "$root/target/release/ferrite" serve --listen 127.0.0.1:0 --data-dir "$work/tls-data" \
    --tls-cert "$dir/server.pem" --tls-key "$dir/server.key" >"$work/tls-stdout" 2>"$work/tls-stderr" &
  tls_pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$work/tls-stdout" && break; sleep 0.1; done
  local tls_addr
  tls_addr=$(sed -n 's/^listening on //p' "$work/tls-stdout")
  [ -n "$tls_addr" ] || { cat "$work/tls-stderr"; return 1; }
  local aws="$venv/bin/aws --endpoint-url https://$tls_addr --ca-bundle $dir/ca.pem"
  local first_serial second_serial
  first_serial=$(openssl x509 -noout -serial -in "$dir/first.pem")
  second_serial=$(openssl x509 -noout -serial -in "$dir/second.pem")
  [ "$(served_serial "$tls_addr")" = "$first_serial" ] &&
    $aws s3 mb s3://tls-bucket &&
    $aws s3 cp "$work/files/small.bin" s3://tls-bucket/small.bin &&
    $aws s3 cp "$work/files/multi.bin" s3://tls-bucket/multi.bin &&
    $aws s3 ls s3://tls-bucket >"$work/tls-ls.txt" && grep -q 'small.bin' "$work/tls-ls.txt" &&
    grep -q 'multi.bin' "$work/tls-ls.txt" &&
    $aws s3 cp s3://tls-bucket/small.bin "$work/tls-small.bin" && cmp "$work/files/small.bin" "$work/tls-small.bin" &&
    $aws s3 cp s3://tls-bucket/multi.bin "$work/tls-multi.bin" && cmp "$work/files/multi.bin" "$work/tls-multi.bin" &&
    # Without the CA the certificate is not trusted.
    ! $venv/bin/aws --endpoint-url "https://$tls_addr" s3 ls s3://tls-bucket >/dev/null 2>&1 &&
    # Rotation: new files renamed into place, SIGHUP, new connections see them.
    cp "$dir/second.pem" "$dir/server.pem.new" && cp "$dir/second.key" "$dir/server.key.new" &&
    mv "$dir/server.key.new" "$dir/server.key" && mv "$dir/server.pem.new" "$dir/server.pem" &&
    kill -HUP "$tls_pid" &&
    for _ in $(seq 50); do [ "$(served_serial "$tls_addr")" = "$second_serial" ] && break; sleep 0.1; done &&
    [ "$(served_serial "$tls_addr")" = "$second_serial" ] &&
    grep -q 'TLS certificate reloaded' "$work/tls-stderr" &&
    $aws s3 cp s3://tls-bucket/small.bin - | cmp - "$work/files/small.bin" &&
    $aws s3 rm s3://tls-bucket --recursive >/dev/null &&
    $aws s3 rb s3://tls-bucket &&
    kill "$tls_pid" && wait "$tls_pid" && tls_pid=
}

failed=0
for c in "${clients[@]}"; do
  if "run_$c" >"$work/$c.log" 2>&1; then
    echo "PASS $c"
  else
    echo "FAIL $c"; sed 's/^/    /' "$work/$c.log" | tail -15
    failed=1
  fi
done
exit $failed
