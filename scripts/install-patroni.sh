#!/usr/bin/env bash
# Installs what scripts/pg-ha-up.sh needs from Debian 12's own packages: etcd (3.4),
# Patroni (3.0, which needs python3-etcd even for its etcd3 client), PostgreSQL 15
# (scripts/install-postgres.sh), curl, jq and bc. Nothing is started (no systemd here).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-postgres.sh
need=()
for bin in etcd patroni curl setpriv jq bc; do command -v "$bin" >/dev/null || need+=("$bin"); done
python3 -c 'import etcd' 2>/dev/null || /usr/bin/python3 -c 'import etcd' 2>/dev/null || need+=(python3-etcd)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  etcd-server etcd-client patroni python3-etcd curl jq bc >/dev/null
