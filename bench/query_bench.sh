#!/usr/bin/env bash
# Lode-only query benchmark, quick to rerun after a change (no ClickHouse,
# no zstd -19): posts LINES lines of `lode gen --seed 1` over one day, flushes,
# then times the six questions of bench/storage_bench.sh with curl (median of
# RUNS runs, whole HTTP request). The peer comparison is storage_bench.sh's job.
#
#   bench/query_bench.sh [LODE] [LINES] [RUNS]
set -euo pipefail
LODE=$(readlink -f "${1:-build/lode}")
LINES=${2:-10000000}
RUNS=${3:-8}
WORK=$(mktemp -d /tmp/lode-qbench-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
INTERVAL_US=$((86400000000 / LINES))

"$LODE" serve --data "$WORK/data" --http "127.0.0.1:$PORT" --log-level warn &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fsS "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

t0=$(date +%s.%N)
"$LODE" gen --url "$URL" --count "$LINES" --seed 1 --start 2024-11-14T00:00:00Z \
  --interval "${INTERVAL_US}us" --connections 4 --batch 5000 --quiet
t1=$(date +%s.%N)
curl -fsS -XPOST "$URL/api/v1/admin/flush" >/dev/null
sleep 3

median() {  # median wall time in ms of RUNS requests to $1
  for _ in $(seq 1 "$RUNS"); do curl -fsS -o /dev/null -w '%{time_total}\n' "$URL$1"; done |
    sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}'
}

echo "# lode query benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $LINES lines, $(nproc) cores"
printf "ingest: %s s; segments: %s; segment bytes/line: %s\n" \
  "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')" \
  "$(curl -fsS "$URL/metrics" | awk '/^lode_store_segments / {print $2}')" \
  "$(curl -fsS "$URL/metrics" | awk -v n="$LINES" '/^lode_store_segment_bytes / {printf "%.1f", $2 / n}')"
echo "| question | median ms |"
echo "|---|---|"
echo "| (a) needle zebracorn | $(median '/api/v1/logs?contains=zebracorn&limit=1000') |"
echo "| (b) count by level | $(median '/api/v1/aggregate?by=level') |"
echo "| (c) errors by service, 12:00-13:00 | $(median '/api/v1/aggregate?by=service&level=error&start=2024-11-14T12:00:00Z&end=2024-11-14T13:00:00Z') |"
echo "| (d) per-minute histogram of checkout | $(median '/api/v1/aggregate?service=checkout&step=1m&start=2024-11-14T00:00:00Z&end=2024-11-15T00:00:00Z') |"
echo "| (e) substring 'onnection res' | $(median '/api/v1/logs?contains=onnection%20res&limit=1000') |"
echo "| (f) regex status=5\\d\\d latency_ms=\\d{4} | $(median '/api/v1/logs?regex=status%3D5%5Cd%5Cd%20latency_ms%3D%5Cd%7B4%7D&limit=1000') |"
