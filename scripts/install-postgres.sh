#!/usr/bin/env bash
# Installs PostgreSQL's server binaries from Debian's packages (postgresql-15), when
# missing, for the tests that run Ferrite's metadata store on PostgreSQL
# (ferrite_store::pg_testing starts a throwaway server from them; nothing is left
# running). Idempotent; needs root (or sudo) only when something must be installed.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null; then
  exit 0
fi
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
echo "installing postgresql-15 (Debian) for the PostgreSQL metadata store's tests" >&2
"${sudo[@]}" apt-get update -qq
# The package's own cluster is not needed: tests make their own (no systemd here).
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
