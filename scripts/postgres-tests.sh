#!/usr/bin/env bash
# Ferrite's tests with the metadata on PostgreSQL:
#  1. the store's own tests (shared conformance suite, concurrency, two gateways),
#  2. the binary's integration suites (aws-sdk-s3 against the real server) with every
#     server started with `--meta postgres://...` (FERRITE_TEST_META=postgres), a
#     database of its own per data dir.
#
#   scripts/postgres-tests.sh                 # both
#   scripts/postgres-tests.sh --test s3_api   # only these integration suites
#
# Installs PostgreSQL from Debian if missing (scripts/install-postgres.sh), starts one
# throwaway server on a free loopback port under target/, and stops it by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
# Built as the README's test command builds (--workspace --all-features), so that
# after it nothing is compiled again.
root=$(pwd)
scripts/install-postgres.sh
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" pg-tests.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$work"
  # setpriv execs (no fork): $! below is the server's own PID.
  as=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
"${as[@]}" "$bin/initdb" -A trust -U ferrite -E UTF8 --locale=C -N -D "$work/data" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/postgres" -D "$work/data" -p "$port" -k "$work" -c listen_addresses=127.0.0.1 \
  -c max_connections=500 -c shared_buffers=128MB >"$work/server.log" 2>&1 &
pg=$!
trap 'kill -INT $pg 2>/dev/null || true; wait $pg 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 300); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
"$bin/pg_isready" -h 127.0.0.1 -p "$port" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
export FERRITE_TEST_POSTGRES_URL="postgres://ferrite@127.0.0.1:$port/postgres"
export FERRITE_REQUIRE_POSTGRES=1

if [ $# -eq 0 ]; then
  cargo test --workspace --all-features --lib pg_
  # Every integration suite but those about the embedded store's own files: upgrade
  # (pinned redb fixtures) and power_loss (the data dir on a loop device); and
  # postgres_meta, which starts servers on both kinds of store itself (it runs in
  # the README's test command, each test with a PostgreSQL of its own).
  set -- --test s3_api --test versioning --test multipart --test object_lock --test tagging \
    --test sse --test sse_kms --test sse_c --test kms --test rotation --test access --test policies \
    --test iam --test lifecycle --test cors --test post --test attributes --test bad_input \
    --test signed_streaming --test admin_api --test metrics --test hardening --test archive \
    --test crash --test tiers
fi
FERRITE_TEST_META=postgres cargo test --no-fail-fast --workspace --all-features "$@"
