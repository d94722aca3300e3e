#!/usr/bin/env bash
# What mining patterns at ingest costs: bench/ingest_bench.sh with patterns
# off and on, alternating ROUNDS times (the machine's noise then hits both
# alike); prints lines per server CPU-second of each run, the medians and
# their ratio; and, from the server's own counter
# (lode_pattern_mining_seconds_total), the share of its CPU spent mining.
#
#   bench/patterns_cost.sh [LODE] [LINES] [ROUNDS]
set -euo pipefail
LODE=$(readlink -f "${1:-build/lode}")
LINES=${2:-1000000}
ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/lode-patcost-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
printf 'patterns:\n  enabled: false\n' > "$WORK/off.yaml"
printf 'patterns:\n  enabled: true\n' > "$WORK/on.yaml"
for i in $(seq 1 "$ROUNDS"); do
  for mode in off on; do
    out=$(LODE_BENCH_CONFIG="$WORK/$mode.yaml" "$HERE/ingest_bench.sh" "$LODE" "$LINES" 4 5000)
    rate=$(echo "$out" | awk '/lines per server CPU-s/ {gsub(",", "", $5); print $5}')
    share=$(echo "$out" | awk '/pattern mining/ {gsub("%", "", $6); print $6}')
    echo "round $i patterns $mode: $rate lines per server CPU-s${share:+, mining ${share}% of it}"
    echo "$mode $rate ${share:-0}" >> "$WORK/rates"
  done
done
python3 - "$WORK/rates" <<'PY'
import statistics, sys
rates = {"off": [], "on": []}
shares = []
for line in open(sys.argv[1]):
    mode, rate, share = line.split()
    rates[mode].append(float(rate))
    if mode == "on":
        shares.append(float(share))
off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
print(f"median lines per server CPU-s: patterns off {off:,.0f}, on {on:,.0f}")
print(f"A/B: {100 * (off / on - 1):.1f}% more CPU per line with mining (on/off throughput {on / off:.3f})")
print(f"measured inside the server: mining is {statistics.median(shares):.1f}% of its CPU (median)")
PY
