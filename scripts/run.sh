#!/usr/bin/env bash
# `make run`: start lode serve on 127.0.0.1:8080 with ./data, feed it a
# simulated fleet through several protocols at once, print what to try.
# Ctrl-C stops the server and every feeder.
set -euo pipefail
LODE=${1:-build/lode}
ADDR=${LODE_ADDR:-127.0.0.1:8080}
DATA=${LODE_DATA:-./data}
RATE=${LODE_RATE:-2000}
SYSLOG_TCP=${LODE_SYSLOG_TCP:-127.0.0.1:1514}  # 1514: the unprivileged syslog port
LOGS=${LODE_LOGS:-./run-logs}  # container log files written by the fleet, and the agent's state

RULES=${LODE_RULES:-examples/rules.yaml}  # alert rules: notifications appear on this console
"$LODE" serve --data "$DATA" --http "$ADDR" --syslog-tcp "$SYSLOG_TCP" --rules "$RULES" &
SERVE_PID=$!
GEN_PIDS=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${GEN_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  kill -TERM "$SERVE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "lode stopped; data kept in $DATA"
}
trap cleanup INT TERM EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "$SERVE_PID" 2>/dev/null; then echo "lode serve failed to start" >&2; exit 1; fi
  sleep 0.1
done

# The fleet, split over the protocols Lode ingests: each feeder sends its share of $RATE with
# its own seed (so its own instances), live-timestamped, in batches of about a quarter second.
PROTOCOLS=(http loki otlp es syslog-tcp)
FEEDS=$(( ${#PROTOCOLS[@]} + 1 ))  # + the files feeder
SHARE=$(( RATE / FEEDS > 0 ? RATE / FEEDS : 1 ))
BATCH=$(( SHARE / 4 > 0 ? SHARE / 4 : 1 ))
seed=1
# The syslog feeder stops after 90 s, so its services go silent and the example
# ServiceSilent rule fires a minute later.
SYSLOG_SECONDS=${LODE_SYSLOG_SECONDS:-90}
for protocol in "${PROTOCOLS[@]}"; do
  url="http://$ADDR"
  count=0
  if [ "$protocol" = syslog-tcp ]; then url="$SYSLOG_TCP"; count=$((SHARE * SYSLOG_SECONDS)); fi
  "$LODE" gen --protocol "$protocol" --url "$url" --count "$count" --rate "$SHARE" --batch "$BATCH" \
    --seed "$seed" --quiet &
  GEN_PIDS+=($!)
  seed=$((seed + 1))
done
# Files: the fleet writes Kubernetes container logs (CRI, /var/log/pods layout, rotated at
# 10 MiB) under $LOGS/pods, and `lode agent` tails them and ships them to the server.
mkdir -p "$LOGS"
"$LODE" gen --protocol files --dir "$LOGS/pods" --count 0 --rate "$SHARE" --batch "$BATCH" \
  --seed "$seed" --quiet &
GEN_PIDS+=($!)
"$LODE" agent --url "http://$ADDR" --path "$LOGS/pods/*/*/*.log" --state-dir "$LOGS/agent-state" \
  --log-level warn &
GEN_PIDS+=($!)
FEEDERS="${PROTOCOLS[*]} files"

cat <<MSG

  Web UI:  http://$ADDR/   (explore, live tail, patterns, alerts)

Lode is running on http://$ADDR (data in $DATA), with syslog over TCP on $SYSLOG_TCP.
A simulated fleet feeds it $RATE lines/s, $SHARE lines/s over each of: $FEEDERS
(lode gen --protocol ...: NDJSON, Loki push, OTLP/HTTP, Elasticsearch bulk, RFC 5424 syslog,
and Kubernetes container log files under $LOGS/pods, shipped by lode agent).
Try:

  # the example record from the design, then find it
  curl -s -XPOST http://$ADDR/api/v1/logs -d '{"message": "test 1", "level": "info", "timestamp": "Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)", "source": {"type": "http", "entity": "code-scanner-service", "entityInstance": "123.141.2.1"}}'
  curl -s 'http://$ADDR/api/v1/logs?service=code-scanner-service&level=info&start=2024-11-14T15:00:00Z&end=2024-11-14T15:02:00Z'

  # LogQL (docs/QUERY.md): the newest errors of a service, as a table
  $LODE query --url http://$ADDR '{service="checkout", level="error"}' --limit 20
  # a word anywhere (no labels needed), then parse and filter
  $LODE query --url http://$ADDR --since 5m '|= "timeout"'
  $LODE query --url http://$ADDR --since 5m '{} | logfmt | status >= 500 and latency_ms > 1000'
  # error rate per service, per minute; the top 3 services by errors
  $LODE query --url http://$ADDR --since 15m --step 1m 'sum by (service) (rate({level="error"}[1m]))'
  $LODE query --url http://$ADDR --instant 'topk(3, sum by (service) (count_over_time({level="error"}[15m])))'
  # the Loki API, as Grafana uses it (add http://$ADDR as a Loki data source)
  curl -s -G http://$ADDR/loki/api/v1/query --data-urlencode 'query=sum by (level) (count_over_time({}[5m]))'
  curl -s http://$ADDR/loki/api/v1/label/service/values
  # records per protocol (source), and a syslog line of your own
  curl -s -G http://$ADDR/loki/api/v1/query --data-urlencode 'query=sum by (source) (count_over_time({}[5m]))'
  logger -n ${SYSLOG_TCP%:*} -P ${SYSLOG_TCP##*:} -T --octet-count --rfc5424 -t payments -p local3.warning "charge 42 declined"
  # container logs from the files, by namespace (attributes from the /var/log/pods path)
  $LODE query --url http://$ADDR --since 5m 'sum by (namespace) (count_over_time({source="k8s"}[5m]))' --instant
  # alerts (examples/rules.yaml: error bursts, Go panics, silent services -- the syslog
  # feeder stops after ${SYSLOG_SECONDS}s, so its services go silent); firing and resolved
  # notifications print on this console; edit the file, then reload it
  curl -s http://$ADDR/api/v1/alerts
  curl -s -XPOST http://$ADDR/api/v1/rules/reload
  # what the server counted, per source
  curl -s http://$ADDR/metrics | grep lode_ingest_accepted_records_total

Press Ctrl-C to stop.
MSG
wait "$SERVE_PID"
