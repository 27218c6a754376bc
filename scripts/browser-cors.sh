#!/usr/bin/env bash
# CORS as a browser sees it: headless Chromium (Debian's package) loads a page from one
# origin (python3's http.server on a loopback port) whose JavaScript fetch()es a PUT and
# then a GET against a release Ferrite on another port, through presigned URLs (made
# with boto3). Ferrite's bucket allows the page's origin, so both must succeed and the
# body must come back; a second bucket allows another origin only, so the browser must
# refuse the page both requests (and the PUT must not reach the store, its preflight
# being refused). Prints PASS or FAIL; exits non-zero on failure.
#
#   scripts/browser-cors.sh
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if ! command -v chromium >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 ||
    { echo "FAIL browser-cors: could not install chromium" >&2; exit 1; }
fi
cargo build --release -p ferrite >/dev/null 2>&1 || { echo "FAIL browser-cors: build failed" >&2; exit 1; }
venv="$root/target/clients-venv"
if ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
  { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } && "$venv/bin/pip" install -q boto3 ||
    { echo "FAIL browser-cors: pip install failed" >&2; exit 1; }
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
export FERRITE_ROOT_ACCESS_KEY=BROWSERACCESSKEY0001 FERRITE_ROOT_SECRET_KEY=browser-secret-key-for-local-tests-00001
"$root/target/release/ferrite" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/ferrite.out" 2>"$work/ferrite.err" &
pids+=($!)
mkdir -p "$work/site"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/site" >"$work/site.out" 2>"$work/site.err" &
pids+=($!)
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/ferrite.out" && grep -q 'port ' "$work/site.out" && break
  sleep 0.1
done
endpoint="http://$(sed -n 's/^listening on //p' "$work/ferrite.out")"
page_port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/site.out" | head -1)
[ -n "$page_port" ] && [ "$endpoint" != "http://" ] || { echo "FAIL browser-cors: servers did not start"; exit 1; }
origin="http://127.0.0.1:$page_port"

# The buckets, their rules, the presigned URLs and the page.
ENDPOINT=$endpoint ORIGIN=$origin SITE="$work/site" "$venv/bin/python" - <<'PY' || { echo "FAIL browser-cors: setup"; exit 1; }
import json, os, boto3
from botocore.config import Config
# SigV4 presigned URLs sign only the host: the browser's own Content-Type is free.
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id=os.environ["FERRITE_ROOT_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["FERRITE_ROOT_SECRET_KEY"],
                  config=Config(signature_version="s3v4"))
origin = os.environ["ORIGIN"]
for bucket, allowed in [("page-ok", origin), ("page-denied", "http://elsewhere.example")]:
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [allowed], "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})
url = lambda op, bucket: s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": "from-the-page.txt"}, ExpiresIn=600)
urls = {"put": url("put_object", "page-ok"), "get": url("get_object", "page-ok"),
        "denied_put": url("put_object", "page-denied"), "denied_get": url("get_object", "page-denied")}
s3.put_object(Bucket="page-denied", Key="from-the-page.txt", Body=b"stored by the script")
page = """<!doctype html><html><body><pre id="result">pending</pre><script>
const URLS = %s;
const BODY = "written by a page from another origin \\u2713";
async function attempt(f) { try { return await f(); } catch (e) { return "blocked: " + e.name; } }
(async () => {
  const out = {};
  out.put = await attempt(async () => { const r = await fetch(URLS.put, {method: "PUT", body: BODY});
                                        out.etag = r.headers.get("ETag"); return r.status; });
  out.get = await attempt(async () => { const r = await fetch(URLS.get); out.body = await r.text(); return r.status; });
  out.denied_get = await attempt(async () => (await fetch(URLS.denied_get)).status);
  out.denied_put = await attempt(async () => (await fetch(URLS.denied_put, {method: "PUT", body: "x"})).status);
  document.getElementById("result").textContent = JSON.stringify(out);
})();
</script></body></html>""" % json.dumps(urls)
open(os.path.join(os.environ["SITE"], "page.html"), "w").write(page)
PY

timeout 90 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/chrome" \
  --virtual-time-budget=20000 --dump-dom "$origin/page.html" >"$work/dom.html" 2>"$work/chromium.err"

ENDPOINT=$endpoint DOM="$work/dom.html" "$venv/bin/python" - <<'PY'
import html, json, os, re, sys, boto3
dom = open(os.environ["DOM"]).read()
m = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
result = json.loads(html.unescape(m.group(1))) if m and m.group(1) != "pending" else None
print("page said:", result)
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id=os.environ["FERRITE_ROOT_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["FERRITE_ROOT_SECRET_KEY"])
body = "written by a page from another origin \u2713"
def stored(bucket):
    try:
        return s3.get_object(Bucket=bucket, Key="from-the-page.txt")["Body"].read()
    except Exception as e:
        return repr(e)
checks = {
    "the page ran": result is not None,
    "PUT through the matching rule succeeded": result and result.get("put") == 200,
    "the page could read the exposed ETag": result and bool(result.get("etag")),
    "GET through the matching rule succeeded": result and result.get("get") == 200,
    "the body round-tripped": result and result.get("body") == body,
    "the stored object is the page's": stored("page-ok") == body.encode(),
    "the browser refused the GET without a matching rule": result and str(result.get("denied_get")).startswith("blocked"),
    "the browser refused the PUT without a matching rule": result and str(result.get("denied_put")).startswith("blocked"),
    "the refused PUT never reached the store": stored("page-denied") == b"stored by the script",
}
for name, ok in checks.items():
    print(("ok     " if ok else "FAILED ") + name)
sys.exit(0 if all(checks.values()) else 1)
PY
status=$?
if [ $status -eq 0 ]; then
  echo "PASS browser-cors"
else
  echo "FAIL browser-cors"
  tail -5 "$work/chromium.err" | sed 's/^/    /'
  exit 1
fi
