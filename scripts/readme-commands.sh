#!/usr/bin/env bash
# The README's two commands, taken from its own text (the two ```sh blocks under
# "## The two commands"), so that a README whose commands do not work fails CI.
#
#   scripts/readme-commands.sh print-run    # prints the run command
#   scripts/readme-commands.sh print-test   # prints the test command
#   scripts/readme-commands.sh test         # runs the test command
#   scripts/readme-commands.sh run-check    # runs the run command in this checkout,
#        waits for GET /health/ready, does a signed PUT/GET round trip with the aws cli
#        (from the venv scripts/client-compat.sh makes), stops the server by its PID
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

block() { # the n-th ```sh block of the section
  awk -v want="$1" '
    /^## / { in_section = ($0 == "## The two commands") }
    in_section && /^```sh$/ { n++; if (n == want) { grab = 1; next } }
    grab && /^```$/ { exit }
    grab { print }
  ' README.md
}
run_cmd=$(block 1)
test_cmd=$(block 2)
[ -n "$run_cmd" ] || { echo "README: no run command under '## The two commands'" >&2; exit 1; }
[ -n "$test_cmd" ] || { echo "README: no test command under '## The two commands'" >&2; exit 1; }

case "${1:-}" in
  print-run) echo "$run_cmd" ;;
  print-test) echo "$test_cmd" ;;
  test)
    echo "README test command: $test_cmd" >&2
    bash -c "$test_cmd"
    ;;
  run-check)
    aws="$root/target/clients-venv/bin/aws"
    [ -x "$aws" ] || { echo "run scripts/client-compat.sh first (it installs the aws cli)" >&2; exit 1; }
    rm -rf "$root/ferrite-data"
    work=$(mktemp -d)
    echo "README run command: $run_cmd" >&2
    # Its own session, so that the server (a child of cargo) can be found and stopped.
    setsid bash -c "$run_cmd" >"$work/stdout" 2>"$work/stderr" &
    launcher=$!
    cleanup() {
      pkill -TERM -s "$launcher" 2>/dev/null || true
      wait "$launcher" 2>/dev/null || true
      rm -rf "$work" "$root/ferrite-data"
    }
    trap cleanup EXIT
    ok=
    for _ in $(seq 900); do # the release build may take minutes on a fresh clone
      if curl -fsS http://127.0.0.1:9000/health/ready >/dev/null 2>&1; then ok=1; break; fi
      kill -0 "$launcher" 2>/dev/null || break
      sleep 1
    done
    if [ -z "$ok" ]; then
      echo "the README's run command did not bring up a server" >&2
      tail -20 "$work/stderr" >&2
      exit 1
    fi
    server=$(pgrep -s "$launcher" -x ferrite | head -1)
    [ -n "$server" ] || { echo "no ferrite process found" >&2; exit 1; }
    ak=$(sed -n 's/^  access key: //p' "$work/stdout")
    sk=$(sed -n 's/^  secret key: //p' "$work/stdout")
    [ -n "$ak" ] && [ -n "$sk" ] || { echo "no generated credentials printed" >&2; cat "$work/stdout" >&2; exit 1; }
    export AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null
    echo "readme round trip $(date)" >"$work/in.txt"
    "$aws" --endpoint-url http://127.0.0.1:9000 s3 mb s3://readme-check >/dev/null
    "$aws" --endpoint-url http://127.0.0.1:9000 s3 cp "$work/in.txt" s3://readme-check/in.txt >/dev/null
    "$aws" --endpoint-url http://127.0.0.1:9000 s3 cp s3://readme-check/in.txt "$work/out.txt" >/dev/null
    cmp "$work/in.txt" "$work/out.txt"
    kill -TERM "$server"
    for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server" 2>/dev/null; then echo "the server did not stop on SIGTERM" >&2; exit 1; fi
    echo "README run command: PASS (started, health ready, PUT/GET round trip, stopped by PID $server)"
    ;;
  *) echo "usage: $0 print-run|print-test|test|run-check" >&2; exit 2 ;;
esac
