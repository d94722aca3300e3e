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

# The same questions and three pipelines in LogQL (Loki API). Instant queries
# at the day's last nanosecond cover exactly the day.
DAY_END=1731628799999999999
HOUR_END=$(( $(date -d 2024-11-14T13:00:00Z +%s) * 1000000000 - 1 ))
logql() {  # median ms of a LogQL query: logql PATH QUERY [extra curl args]
  local path=$1 q=$2; shift 2
  for _ in $(seq 1 "$RUNS"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' -G "$URL$path" --data-urlencode "query=$q" "$@"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}'
}
inst() { logql /loki/api/v1/query "$1" --data-urlencode "time=${2:-$DAY_END}"; }
echo "| (La) \`{} |= \"zebracorn\"\` | $(logql /loki/api/v1/query_range '{} |= "zebracorn"' --data-urlencode start=1731542400000000000 --data-urlencode end=1731628800000000000 --data-urlencode limit=1000) |"
echo "| (Lb) \`sum by (level) (count_over_time({}[1d]))\` | $(inst 'sum by (level) (count_over_time({}[1d]))') |"
echo "| (Lc) \`sum by (service) (count_over_time({level=\"error\"}[1h]))\` 12:00-13:00 | $(inst 'sum by (service) (count_over_time({level="error"}[1h]))' "$HOUR_END") |"
echo "| (Ld) \`sum(count_over_time({service=\"checkout\"}[1m]))\` step 1m, the day | $(logql /loki/api/v1/query_range 'sum(count_over_time({service="checkout"}[1m]))' --data-urlencode step=60 --data-urlencode start=1731542459999999999 --data-urlencode end=$DAY_END) |"
echo "| (Le) \`sum(count_over_time({} |= \"onnection res\" [1d]))\` | $(inst 'sum(count_over_time({} |= "onnection res" [1d]))') |"
echo "| (Lf) \`sum(count_over_time({} |~ \"status=5\\\\d\\\\d latency_ms=\\\\d{4}\" [1d]))\` | $(inst 'sum(count_over_time({} |~ "status=5\\d\\d latency_ms=\\d{4}" [1d]))') |"
echo "| (Lg) \`topk(3, sum by (service) (count_over_time({level=\"error\"} |~ \"timeout|refused\" [1d])))\` | $(inst 'topk(3, sum by (service) (count_over_time({level="error"} |~ "timeout|refused" [1d])))') |"
echo "| (Lh) \`sum by (service) (count_over_time({} | logfmt | __error__=\"\" | latency_ms > 5000 [1d]))\` | $(inst 'sum by (service) (count_over_time({} | logfmt | __error__="" | latency_ms > 5000 [1d]))') |"
echo "| (Li) \`{service=\"checkout\"} | logfmt | status >= 500\` (lines, limit 100) | $(logql /loki/api/v1/query_range '{service="checkout"} | logfmt | status >= 500' --data-urlencode start=1731542400000000000 --data-urlencode end=1731628800000000000) |"
