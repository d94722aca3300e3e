#!/usr/bin/env bash
# What mining patterns at ingest costs: bench/ingest_bench.sh with patterns
# off and on, alternating ROUNDS times (the machine's noise then hits both
# alike); prints lines per server CPU-second of each run, the medians and
# their ratio.
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
    rate=$(LODE_BENCH_CONFIG="$WORK/$mode.yaml" "$HERE/ingest_bench.sh" "$LODE" "$LINES" 4 5000 |
      awk '/lines per server CPU-s/ {gsub(",", "", $5); print $5}')
    echo "round $i patterns $mode: $rate lines per server CPU-s"
    echo "$mode $rate" >> "$WORK/rates"
  done
done
python3 - "$WORK/rates" <<'PY'
import statistics, sys
rates = {"off": [], "on": []}
for line in open(sys.argv[1]):
    mode, rate = line.split()
    rates[mode].append(float(rate))
off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
print(f"median lines per server CPU-s: patterns off {off:,.0f}, on {on:,.0f}")
print(f"mining costs {100 * (off / on - 1):.1f}% more CPU per line (on/off throughput {on / off:.3f})")
PY
