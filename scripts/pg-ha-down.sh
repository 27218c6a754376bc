#!/bin/bash
# pg-ha-down.sh [<dir>] -- undo pg-ha-up.sh: kill by PID (Patroni, its postmasters, etcd),
# delete netns / veths / bridge, remove the state dir.
# <dir> defaults to $PGHA_DIR, else the dir recorded in target/pgha-last-run.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-${PGHA_DIR:-$(cat "$HERE/../target/pgha-last-run" 2>/dev/null)}}
[ -n "$DIR" ] && [ -f "$DIR/state.env" ] || { echo "no pg-ha state dir (${DIR:-unset})" >&2; exit 1; }
# shellcheck disable=SC1091
. "$DIR/state.env"

# kill PID only if it is still the process we think it is (guards against PID reuse)
kill_if() { # pid pattern signal
  local pid=$1 pat=$2 sig=${3:-KILL}
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$pat" && kill -"$sig" "$pid" 2>/dev/null
  return 0
}
wait_gone() { for _ in $(seq 1 50); do [ -d "/proc/$1" ] || return 0; sleep 0.1; done; }

# 1. Patroni first (so nobody restarts postgres), SIGKILL: it is a throwaway cluster
for i in $PGHA_NODES; do
  pid=$(cat "$DIR/n$i/patroni.pid" 2>/dev/null); kill_if "$pid" "patroni $DIR/n$i/patroni.yml"; wait_gone "${pid:-0}"
done
# 2. postmasters (Patroni's children, orphaned when Patroni is killed): SIGQUIT = immediate shutdown
for i in $PGHA_NODES; do
  pm=$(head -1 "$DIR/n$i/data/postmaster.pid" 2>/dev/null)
  kill_if "$pm" "$DIR/n$i/data" QUIT; wait_gone "${pm:-0}"; kill_if "$pm" "$DIR/n$i/data" KILL
done
# 3. anything else still inside our namespaces (only our processes live there)
if [ "${PGHA_NETNS:-0}" = 1 ]; then
  for i in $PGHA_NODES; do
    ns=$PGHA_PREFIX-n$i
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
fi
# 4. etcd
while read -r name pid; do
  case $name in etcd*) kill_if "$pid" "etcd --name" TERM; wait_gone "$pid"; kill_if "$pid" "etcd --name" KILL ;; esac
done < "$DIR/pids"
# 5. network
if [ "${PGHA_NETNS:-0}" = 1 ]; then
  for i in $PGHA_NODES; do
    ip link del "$PGHA_PREFIX-h$i" 2>/dev/null
    ip netns del "$PGHA_PREFIX-n$i" 2>/dev/null
  done
  ip link del "$PGHA_BRIDGE" 2>/dev/null
fi
# 6. files
rm -rf -- "$DIR"
[ "$(cat "$HERE/../target/pgha-last-run" 2>/dev/null)" = "$DIR" ] && rm -f "$HERE/../target/pgha-last-run"
echo "pg-ha-down: cleaned $DIR"
