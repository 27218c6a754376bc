#!/usr/bin/env bash
# Ferrite's tests with object data in Ceph RADOS: the RADOS blob store's own tests
# (the shared conformance suite, segments, scrub) and the binary's RADOS tests
# (gateways over PostgreSQL and one RADOS pool). Installs Ceph and PostgreSQL from
# Debian when missing, starts a throwaway cluster (scripts/ceph-cluster.sh) and
# stops it by its PIDs at the end. `cargo test` arguments may follow.
set -euo pipefail
cd "$(dirname "$0")/.."
# Built as the README's test command builds (--workspace --all-features), so that
# after it nothing is compiled again.
scripts/install-ceph.sh
scripts/install-postgres.sh
out=$(scripts/ceph-cluster.sh up)
CEPH_DIR=$(sed -n 's/^CEPH_DIR=//p' <<<"$out")
CEPH_CONF=$(sed -n 's/^CEPH_CONF=//p' <<<"$out")
CEPH_POOL=$(sed -n 's/^CEPH_POOL=//p' <<<"$out")
trap 'scripts/ceph-cluster.sh down "$CEPH_DIR" >/dev/null' EXIT
export CEPH_CONF FERRITE_TEST_RADOS_POOL=$CEPH_POOL FERRITE_REQUIRE_RADOS=1 FERRITE_REQUIRE_POSTGRES=1
if [ $# -eq 0 ]; then
  cargo test --workspace --all-features --lib rados
  set -- --test rados_blobs
fi
cargo test --workspace --all-features "$@"
