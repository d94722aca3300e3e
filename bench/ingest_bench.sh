#!/usr/bin/env bash
# Ingest benchmark: `lode gen` posts N generated lines (fixed seed) over HTTP
# to a fresh `lode serve`; reports wall-clock lines/s, lines per CPU-second of
# the server process, peak RSS, and stored bytes per line.
#
#   bench/ingest_bench.sh [LODE] [LINES] [CONNECTIONS] [BATCH]
#
# LODE_BENCH_CONFIG=file.yaml passes `--config file.yaml` to the server (e.g.
# `patterns: {enabled: false}`; bench/patterns_cost.sh uses it).
# Results go to stdout and bench/out/ingest-<date>.txt.
set -euo pipefail
LODE=$(readlink -f "${1:-build/lode}")
LINES=${2:-${LODE_BENCH_LINES:-2000000}}
CONNS=${3:-4}
BATCH=${4:-5000}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT="$HERE/out"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/lode-bench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TICKS=$(getconf CLK_TCK)

CONFIG_ARGS=()
if [[ -n "${LODE_BENCH_CONFIG:-}" ]]; then CONFIG_ARGS=(--config "$(readlink -f "$LODE_BENCH_CONFIG")"); fi
"$LODE" serve --data "$WORK/data" --http "127.0.0.1:$PORT" --log-level warn "${CONFIG_ARGS[@]}" &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
c0=$(cpu_ticks)
t0=$(date +%s.%N)
"$LODE" gen --url "http://127.0.0.1:$PORT" --count "$LINES" --seed 1 --start 2024-11-14T00:00:00Z \
  --interval 8640us --connections "$CONNS" --batch "$BATCH" --quiet
t1=$(date +%s.%N)
c1=$(cpu_ticks)
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
stored=$(du -sb "$WORK/data" | cut -f1)
# The raw NDJSON, for the size comparison.
"$LODE" gen --count "$LINES" --seed 1 --start 2024-11-14T00:00:00Z --interval 8640us > "$WORK/raw.ndjson"
raw=$(stat -c %s "$WORK/raw.ndjson")
count=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/aggregate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
mining=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^lode_pattern_mining_seconds_total/ {print $2}')

REPORT=$(python3 - "$LINES" "$t0" "$t1" "$c0" "$c1" "$TICKS" "$rss_kib" "$stored" "$raw" "$count" "$CONNS" "$BATCH" "${mining:-0}" <<'PY'
import sys
lines, t0, t1, c0, c1, ticks, rss, stored, raw, count, conns, batch, mining = sys.argv[1:]
lines = int(lines); wall = float(t1) - float(t0); cpu = (int(c1) - int(c0)) / int(ticks)
print(f"lines sent               {lines}  (stored: {count})")
print(f"connections x batch      {conns} x {batch}")
print(f"wall time                {wall:.2f} s")
print(f"ingest rate              {lines / wall:,.0f} lines/s")
print(f"server CPU               {cpu:.2f} s")
print(f"lines per server CPU-s   {lines / cpu:,.0f}")
print(f"peak RSS of the server   {int(rss) / 1024:.0f} MiB")
print(f"raw NDJSON               {int(raw) / 1e6:.1f} MB ({int(raw) / lines:.0f} B/line)")
print(f"stored on disk (all)     {int(stored) / 1e6:.1f} MB ({int(stored) / lines:.0f} B/line)")
if float(mining) > 0:
    print(f"pattern mining           {float(mining):.2f} s = {100 * float(mining) / cpu:.1f}% of server CPU")
PY
)
{
  echo "# lode ingest benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r)"
  echo "$REPORT"
} | tee "$OUT/ingest-$(date -u +%Y%m%dT%H%M%SZ).txt"
