#!/usr/bin/env bash
# Soak: a mixed workload against one server for a long time, watching its memory.
#
#   bench/soak.sh                       # 10 minutes
#   SOAK_DURATION_SECS=3600 bench/soak.sh   # the documented one-hour run
#
# Builds Ferrite and ferrite-bench in release mode, starts Ferrite (durable default)
# on a temporary data dir under target/, then repeats rounds of SOAK_ROUND_SECS
# (default 60 s) until the time is up. Each round: GET/PUT/LIST on 2,000 64 KiB
# objects (70/20/10, 16 in flight), 20,000 small PUTs then DELETEs for 2 s in a fresh
# bucket, and 6 MiB two-part multipart uploads for 1 s. After each round it samples the server's
# resident memory, peak memory and open file descriptors. It reports RSS over time,
# errors and throughput in bench/results/soak-<UTC time>.{md,json}, and fails if any
# request failed, the server died, or RSS at the end is more than 1.5x (+16 MiB) its
# value after the first round (memory that grows with time, not with load).
# Only loopback traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${SOAK_DURATION_SECS:-600}
round=${SOAK_ROUND_SECS:-60}
out="$root/bench/results"
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

cargo build --release -p ferrite -p ferrite-bench >&2
bench="$root/target/release/ferrite-bench"
mkdir -p "$root/target/bench"
work=$(mktemp -d -p "$root/target/bench")
runs="$work/runs"
mkdir -p "$runs"

export FERRITE_ROOT_ACCESS_KEY=SOAKACCESSKEY0000001 FERRITE_ROOT_SECRET_KEY=soak-secret-key-for-local-runs-000000001
export AWS_ACCESS_KEY_ID=$FERRITE_ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$FERRITE_ROOT_SECRET_KEY
RUST_LOG=warn "$root/target/release/ferrite" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
  >"$work/stdout" 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$work/stdout" && break; sleep 0.1; done
endpoint="http://$(sed -n 's/^listening on //p' "$work/stdout")"

mixed_secs=$((round - 12))  # the rest of a round: delete prepare + 2 s + 1 s of multipart
[ "$mixed_secs" -ge 5 ] || { echo "SOAK_ROUND_SECS must be at least 17" >&2; exit 2; }
samples="$work/samples.tsv"
printf 'round\telapsed_s\trss_mib\tpeak_mib\tfds\tmixed_ops\tdelete_ops\tmultipart_mib\terrors\n' >"$samples"
start=$(date +%s)
r=0
while :; do
  r=$((r + 1))
  prepare=(--no-prepare)
  [ "$r" -eq 1 ] && prepare=()
  "$bench" --endpoint "$endpoint" --op mixed --size 64KiB --concurrency 16 --objects 2000 \
    --bucket soak-mixed --duration "${mixed_secs}s" "${prepare[@]}" --json "$runs/mixed-$r.json" >/dev/null
  "$bench" --endpoint "$endpoint" --op delete --size 4KiB --concurrency 16 --objects 20000 \
    --bucket "soak-delete-$r" --duration 2s --json "$runs/delete-$r.json" >/dev/null
  # Two parts (5 MiB + 1 MiB), one at a time for 1 s: about 15 GiB of new objects an
  # hour on this class of machine, which the data dir under target/ must have room for.
  "$bench" --endpoint "$endpoint" --op multipart-put --size 6MiB --part-size 5MiB --concurrency 1 \
    --bucket soak-mp --duration 1s --json "$runs/mp-$r.json" >/dev/null
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the server died in round $r" >&2
    exit 1
  fi
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  peak=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  fds=$(ls "/proc/$pid/fd" | wc -l)
  errors=$(jq -s 'map(.errors) | add' "$runs/mixed-$r.json" "$runs/delete-$r.json" "$runs/mp-$r.json")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$(( $(date +%s) - start ))" "$rss" "$peak" "$fds" \
    "$(jq '.ops_per_sec | floor' "$runs/mixed-$r.json")" "$(jq '.ops_per_sec | floor' "$runs/delete-$r.json")" \
    "$(jq '.mib_per_sec | floor' "$runs/mp-$r.json")" "$errors" | tee -a "$samples" >&2
  [ $(( $(date +%s) - start )) -ge "$duration" ] && break
done

python3 - "$samples" "$out" "$stamp" "$duration" "$round" <<'PY'
import csv, json, sys
samples, out, stamp, duration, round_s = sys.argv[1:]
rows = list(csv.DictReader(open(samples), delimiter="\t"))
for r in rows:
    for k in r:
        r[k] = float(r[k])
first, last = rows[0], rows[-1]
errors = int(sum(r["errors"] for r in rows))
doc = {
    "time": stamp, "duration_s": last["elapsed_s"], "rounds": len(rows),
    "rss_mib_after_first_round": first["rss_mib"], "rss_mib_at_end": last["rss_mib"],
    "rss_mib_max": max(r["rss_mib"] for r in rows), "peak_rss_mib": last["peak_mib"],
    "fds_first": first["fds"], "fds_last": last["fds"], "errors": errors,
    "mixed_ops_per_sec_mean": sum(r["mixed_ops"] for r in rows) / len(rows),
    "delete_ops_per_sec_mean": sum(r["delete_ops"] for r in rows) / len(rows),
    "multipart_mib_per_sec_mean": sum(r["multipart_mib"] for r in rows) / len(rows),
    "samples": rows,
}
flat = last["rss_mib"] <= first["rss_mib"] * 1.5 + 16
doc["rss_flat"] = flat
lines = [
    f"# Ferrite soak {stamp}", "",
    f"{len(rows)} rounds of {round_s} s ({last['elapsed_s']:.0f} s): GET/PUT/LIST on 2,000 64 KiB objects (16 in flight), "
    "small PUT+DELETE, 6 MiB two-part multipart uploads; durable default, loopback.", "",
    f"RSS after the first round {first['rss_mib']:.1f} MiB, at the end {last['rss_mib']:.1f} MiB, "
    f"max {doc['rss_mib_max']:.1f} MiB (peak {last['peak_mib']:.1f} MiB); open fds {first['fds']:.0f} -> {last['fds']:.0f}; "
    f"errors {errors}; mixed {doc['mixed_ops_per_sec_mean']:.0f} ops/s, delete {doc['delete_ops_per_sec_mean']:.0f} ops/s, "
    f"multipart {doc['multipart_mib_per_sec_mean']:.0f} MiB/s (means over rounds).", "",
    "| round | elapsed s | RSS MiB | peak MiB | fds | mixed ops/s | delete ops/s | multipart MiB/s | errors |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]
for r in rows:
    lines.append(f"| {r['round']:.0f} | {r['elapsed_s']:.0f} | {r['rss_mib']:.1f} | {r['peak_mib']:.1f} | {r['fds']:.0f} | "
                 f"{r['mixed_ops']:.0f} | {r['delete_ops']:.0f} | {r['multipart_mib']:.0f} | {r['errors']:.0f} |")
json.dump(doc, open(f"{out}/soak-{stamp}.json", "w"), indent=1)
open(f"{out}/soak-{stamp}.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines[:5]))
sys.exit(0 if errors == 0 and flat else 1)
PY
