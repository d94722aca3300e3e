#!/usr/bin/env bash
# `make run`: start lode serve on 127.0.0.1:8080 with ./data, feed it a
# simulated fleet, print what to try. Ctrl-C stops both.
set -euo pipefail
LODE=${1:-build/lode}
ADDR=${LODE_ADDR:-127.0.0.1:8080}
DATA=${LODE_DATA:-./data}
RATE=${LODE_RATE:-2000}

"$LODE" serve --data "$DATA" --http "$ADDR" &
SERVE_PID=$!
GEN_PID=""
cleanup() {
  trap - INT TERM EXIT
  [ -n "$GEN_PID" ] && kill "$GEN_PID" 2>/dev/null || true
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

"$LODE" gen --url "http://$ADDR" --count 0 --rate "$RATE" --quiet &
GEN_PID=$!

cat <<MSG

Lode is running on http://$ADDR (data in $DATA), fed by a simulated fleet at $RATE lines/s.
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
  # what the server counted
  curl -s http://$ADDR/metrics

Press Ctrl-C to stop.
MSG
wait "$SERVE_PID"
