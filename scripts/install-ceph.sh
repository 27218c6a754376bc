#!/usr/bin/env bash
# Installs what a throwaway Ceph cluster needs, from Debian 12's own packages (Ceph
# 16.2 "pacific"): ceph-mon, ceph-mgr, ceph-osd and ceph-common (the `ceph` and
# `rados` tools, and librados2, which Ferrite loads at run time for --blobs rados:).
# No librados-dev: nothing is linked at build time. Idempotent; nothing is started.
set -euo pipefail
need=()
for bin in ceph-mon ceph-mgr ceph-osd ceph rados monmaptool ceph-authtool uuidgen ss; do
  command -v "$bin" >/dev/null || need+=("$bin")
done
# (grep -c, not -q: an early exit would fail the pipe under pipefail)
[ "$(ldconfig -p | grep -c 'librados.so.2 ')" -gt 0 ] || need+=(librados2)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
echo "installing Ceph from Debian (missing: ${need[*]})" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  ceph-mon ceph-mgr ceph-osd ceph-common librados2 uuid-runtime iproute2 >/dev/null
