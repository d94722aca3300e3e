#!/usr/bin/env bash
# Storage and query benchmark: Lode against ClickHouse 18.16, ripgrep and zstd on the same
# generated data, in the same run (bench/README.md).
#
#   bench/storage_bench.sh [LODE] [LINES]      defaults: build/lode, $LODE_BENCH_LINES or 10000000
#
# 1. `lode gen` writes LINES lines of the simulated fleet (one day from 2024-11-14T00:00:00Z) as
#    the fleet's raw NDJSON and as normalized NDJSON (for ClickHouse); zstd -3 and
#    zstd -19 --long=27 -T2 compress the raw file.
# 2. A fresh `lode serve` ingests the raw file (5000-line requests, 4 connections): lines/s,
#    lines per server CPU-second, peak RSS, bytes on disk.
# 3. A ClickHouse server of our own (scratch dir, loopback, free ports) loads the normalized
#    file into a zstd MergeTree table (bench/clickhouse/); OPTIMIZE FINAL; size of active parts.
# 4. Six questions (needle, count by level, errors by service in one hour, per-minute histogram,
#    substring, regex), one warm-up + 7 runs each on Lode, ClickHouse and rg; counts checked.
# 5. LogHub samples (../shared/data/loghub/*/loghub2/*_2k.log): Lode bytes per line on disk
#    against zstd -19.
# The report goes to stdout and bench/out/storage-<date>.md. Needs scripts/setup.sh --bench.
# Everything runs on 127.0.0.1; every process started here is stopped at exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
LODE=$(readlink -f "${1:-$REPO/build/lode}")
LINES=${2:-${LODE_BENCH_LINES:-10000000}}
REPS=${LODE_BENCH_REPS:-7}
CONNS=4
BATCH=5000
PY="$HERE/storage_bench.py"
OUT="$HERE/out"
T_BEGIN=$(date +%s.%N)

die() { echo "storage_bench: ERROR: $*" >&2; exit 1; }
say() { echo "storage_bench: $*" >&2; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }

[ -x "$LODE" ] || die "no lode binary at $LODE (run: make build)"
[[ "$LINES" =~ ^[0-9]+$ ]] && [ "$LINES" -gt 0 ] || die "LINES must be a positive integer, not '$LINES'"
for tool in clickhouse-server clickhouse-client rg zstd curl python3 du awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run scripts/setup.sh --bench"
done

WORK=$(mktemp -d /tmp/lode-storage-bench-XXXXXX)
LODE_PID="" CH_PID="" LH_PID=""
stop() {  # stop PID: SIGTERM, then SIGKILL after 20 s
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop "$LH_PID"; stop "$LODE_PID"; stop "$CH_PID"
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

FACTS="$WORK/facts.env"
fact() { echo "$1=$2" >>"$FACTS"; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
tail_log() { [ -f "$1" ] && { echo "--- last lines of $1:" >&2; tail -n 30 "$1" >&2; }; return 0; }

# Asks Lode at $1 to write its in-memory head into segments (POST /api/v1/admin/flush; skipped
# with a note when the server has no such endpoint), then waits until the size of data dir $2
# stops changing (background merges, WAL trimming; at most 60 s). Echoes the size in bytes.
flush_and_size() {
  local code prev size
  code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$1/api/v1/admin/flush" || true)
  [ "$code" = 200 ] || say "no flush (POST /api/v1/admin/flush answered ${code:-nothing}): size as ingested"
  prev=-1
  size=$(du -sb "$2" | cut -f1)
  for _ in $(seq 1 60); do
    [ "$size" = "$prev" ] && break
    sleep 1
    prev=$size
    size=$(du -sb "$2" | cut -f1)
  done
  echo "$size"
}

# Starts `lode serve` on a free port with data dir $1, log $2; sets STARTED_PID and STARTED_URL.
start_lode() {
  local port
  port=$(free_port)
  "$LODE" serve --data "$1" --http "127.0.0.1:$port" --log-level warn >"$2" 2>&1 &
  STARTED_PID=$!
  STARTED_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 150); do
    curl -fsS "$STARTED_URL/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { tail_log "$2"; die "lode serve exited at startup"; }
    sleep 0.1
  done
  tail_log "$2"
  die "lode serve not ready within 15 s"
}

mkdir -p "$OUT"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fact date "$DATE"
fact lines "$LINES"
fact nproc "$(nproc)"
fact cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
fact mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
fact kernel "$(uname -r)"
fact lode_version "$("$LODE" version | sed -n 1p)"
fact rg_version "$(rg --version | sed -n 1p)"
fact zstd_version "zstd $(zstd --version | grep -o 'v[0-9.]*' | sed -n 1p)"
fact connections "$CONNS"
fact batch "$BATCH"
say "scratch dir $WORK, $LINES lines, $(nproc) cores"

# --- 1. data ---------------------------------------------------------------------------------
GEN=(--count "$LINES" --seed 1 --start 2024-11-14T00:00:00Z --interval 8640us)
t=$(now)
"$LODE" gen "${GEN[@]}" >"$WORK/raw.ndjson"
"$LODE" gen "${GEN[@]}" --format normalized >"$WORK/norm.ndjson"
fact gen_s "$(since "$t")"
RAW_BYTES=$(stat -c %s "$WORK/raw.ndjson")
fact raw_bytes "$RAW_BYTES"
fact norm_bytes "$(stat -c %s "$WORK/norm.ndjson")"
n=$(wc -l <"$WORK/raw.ndjson")
[ "$n" -eq "$LINES" ] || die "lode gen wrote $n lines, expected $LINES"
say "generated $LINES lines: raw $RAW_BYTES bytes"

say "zstd -3, then zstd -19 --long=27 -T2 (slow: about 1.2 MB/s per thread on the 2-core dev machine)"
t=$(now)
z=$(zstd -q -3 -c "$WORK/raw.ndjson" | wc -c)
fact zstd3_s "$(since "$t")"
fact zstd3_bytes "$z"
# zstd -19 of the same bytes always gives the same size: cache it by the input's digest
# (the time is cached with it, and reported as measured then).
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/lode-bench"
mkdir -p "$CACHE_DIR"
DIGEST=$(sha256sum "$WORK/raw.ndjson" | cut -c1-32)
CACHED="$CACHE_DIR/zstd19-$DIGEST"
if [ -s "$CACHED" ]; then
  read -r z19_s z < "$CACHED"
  say "zstd -19: cached result for this input ($CACHED)"
  fact zstd19_s "$z19_s"
  fact zstd19_bytes "$z"
else
  t=$(now)
  z=$(zstd -q -19 --long=27 -T2 -c "$WORK/raw.ndjson" | wc -c)
  z19_s=$(since "$t")
  fact zstd19_s "$z19_s"
  fact zstd19_bytes "$z"
  echo "$z19_s $z" > "$CACHED"
fi
say "zstd -3 and -19 done"

# --- 2. Lode ingest --------------------------------------------------------------------------
start_lode "$WORK/lode-data" "$WORK/lode.log"
LODE_PID=$STARTED_PID LODE_URL=$STARTED_URL
say "lode serve pid $LODE_PID on $LODE_URL; ingesting"
ING=$(python3 "$PY" ingest --url "$LODE_URL" --file "$WORK/raw.ndjson" --pid "$LODE_PID" \
  --connections "$CONNS" --batch "$BATCH") || { tail_log "$WORK/lode.log"; die "Lode ingest failed"; }
fact lode_ingest "$ING"
fact lode_disk_ingested_bytes "$(du -sb "$WORK/lode-data" | cut -f1)"
t=$(now)
disk=$(flush_and_size "$LODE_URL" "$WORK/lode-data")
fact lode_flush_s "$(since "$t")"
fact lode_disk_bytes "$disk"
stored=$(curl -fsS "$LODE_URL/api/v1/aggregate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$stored" -eq "$LINES" ] || say "WARNING: Lode holds $stored records after ingesting $LINES lines"
say "Lode ingest: $ING"

# --- 3. ClickHouse ---------------------------------------------------------------------------
CH="$WORK/clickhouse"
mkdir -p "$CH/log" "$CH/data" "$CH/tmp" "$CH/user_files" "$CH/format_schemas"
CH_TCP=$(free_port)
CH_HTTP=$(free_port)
while [ "$CH_HTTP" = "$CH_TCP" ]; do CH_HTTP=$(free_port); done
sed -e "s#@DIR@#$CH#g" -e "s#@TCP_PORT@#$CH_TCP#g" -e "s#@HTTP_PORT@#$CH_HTTP#g" \
  "$HERE/clickhouse/config.xml" >"$CH/config.xml"
cp "$HERE/clickhouse/users.xml" "$CH/users.xml"
clickhouse-server --config-file="$CH/config.xml" >"$CH/log/stdout.log" 2>&1 &
CH_PID=$!
CH_URL="http://127.0.0.1:$CH_HTTP"
up=0
for _ in $(seq 1 300); do
  if [ "$(curl -s "$CH_URL/ping" 2>/dev/null)" = "Ok." ]; then up=1; break; fi
  kill -0 "$CH_PID" 2>/dev/null || break
  sleep 0.1
done
if [ "$up" -ne 1 ]; then
  tail_log "$CH/log/stdout.log"
  tail_log "$CH/log/clickhouse-server.err.log"
  tail_log "$CH/log/clickhouse-server.log"
  die "ClickHouse did not come up within 30 s (pid $CH_PID, ports $CH_TCP/$CH_HTTP)"
fi
chc() { clickhouse-client --host 127.0.0.1 --port "$CH_TCP" "$@"; }
fact ch_version "$(chc --query 'SELECT version()')"
say "ClickHouse pid $CH_PID on ports $CH_TCP (native), $CH_HTTP (http); loading"
chc --multiquery <"$HERE/clickhouse/schema.sql" || die "ClickHouse schema failed"
c0=$(cpu_ticks "$CH_PID")
t=$(now)
# clickhouse-client parses the JSON itself and sends native blocks: its CPU time counts too.
TIMEFORMAT='%U %S'
{ time chc --query "INSERT INTO logs_in FORMAT JSONEachRow" <"$WORK/norm.ndjson" 2>"$CH/log/client.err" ; } \
  2>"$WORK/ch_client_time" ||
  { tail_log "$CH/log/client.err"; tail_log "$CH/log/clickhouse-server.err.log"; die "ClickHouse load failed"; }
fact ch_load_s "$(since "$t")"
fact ch_client_cpu_s "$(awk '{print $1 + $2}' "$WORK/ch_client_time")"
t=$(now)
chc --query "OPTIMIZE TABLE logs FINAL" || die "OPTIMIZE TABLE logs FINAL failed"
fact ch_optimize_s "$(since "$t")"
c1=$(cpu_ticks "$CH_PID")
fact ch_cpu_s "$(python3 -c "import os,sys; print((int(sys.argv[2]) - int(sys.argv[1])) / os.sysconf('SC_CLK_TCK'))" "$c0" "$c1")"
read -r ch_rows ch_bytes ch_parts < <(chc --query \
  "SELECT sum(rows), sum(bytes_on_disk), count() FROM system.parts WHERE active AND database = 'default' AND table = 'logs' FORMAT TSV")
[ -n "$ch_bytes" ] || die "could not read the table size from system.parts"
[ "$ch_rows" -eq "$LINES" ] || say "WARNING: ClickHouse holds $ch_rows rows after loading $LINES"
fact ch_bytes_on_disk "$ch_bytes"
say "ClickHouse: $ch_rows rows, $ch_bytes bytes in $ch_parts active part(s)"

# --- 4. queries ------------------------------------------------------------------------------
say "queries: one warm-up and $REPS runs each"
t=$(now)
python3 "$PY" queries --lode "$LODE_URL" --ch "$CH_URL" --raw "$WORK/raw.ndjson" --reps "$REPS" \
  --lines "$LINES" \
  >"$WORK/queries.json" || die "queries failed"
fact queries_s "$(since "$t")"
fact lode_rss_end_kib "$(hwm_kib "$LODE_PID")"
fact ch_rss_hwm_kib "$(hwm_kib "$CH_PID")"
stop "$LODE_PID"; LODE_PID=""
stop "$CH_PID"; CH_PID=""

# --- 5. LogHub samples -----------------------------------------------------------------------
LOGHUB="$REPO/../shared/data/loghub"
LH_TSV="$WORK/loghub.tsv"
if [ ! -d "$LOGHUB" ]; then
  say "no $LOGHUB: skipping the LogHub run"
  printf 'SKIPPED\tLogHub run skipped: %s is absent.\n' "$LOGHUB" >"$LH_TSV"
else
  start_lode "$WORK/lh-empty" "$WORK/lh.log"
  LH_PID=$STARTED_PID
  empty=$(du -sb "$WORK/lh-empty" | cut -f1)
  fact lode_empty_bytes "$empty"
  stop "$LH_PID"; LH_PID=""
  : >"$LH_TSV"
  for f in "$LOGHUB"/*/loghub2/*_2k.log; do
    [ -f "$f" ] || continue
    system=$(basename "$(dirname "$(dirname "$f")")")
    n=$(awk 'END {print NR}' "$f")
    start_lode "$WORK/lh-$system" "$WORK/lh.log"
    LH_PID=$STARTED_PID
    ans=$(curl -fsS -XPOST -H 'Content-Type: text/plain' -H "X-Scope-OrgID: $system" \
      --data-binary @"$f" "$STARTED_URL/api/v1/logs") || { tail_log "$WORK/lh.log"; die "LogHub $system: ingest failed"; }
    accepted=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["accepted"])' "$ans")
    [ "$accepted" -eq "$n" ] || say "WARNING: LogHub $system: $accepted of $n lines accepted"
    disk=$(($(flush_and_size "$STARTED_URL" "$WORK/lh-$system") - empty))
    stop "$LH_PID"; LH_PID=""
    z=$(zstd -q -19 -c "$f" | wc -c)
    printf '%s\t%s\t%s\t%s\t%s\n' "$system" "$n" "$(stat -c %s "$f")" "$disk" "$z" >>"$LH_TSV"
  done
  say "LogHub: $(wc -l <"$LH_TSV") systems"
fi

# --- report ----------------------------------------------------------------------------------
fact total_s "$(printf '%.0f' "$(since "$T_BEGIN")")"
REPORT="$OUT/storage-$(date -u +%Y%m%dT%H%M%SZ).md"
python3 "$PY" report --facts "$FACTS" --queries "$WORK/queries.json" --loghub "$LH_TSV" \
  --out "$REPORT" || die "report failed"
echo "storage_bench: report saved to $REPORT"
