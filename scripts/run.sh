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

  # the newest errors, as a table
  $LODE query --url http://$ADDR --level error --limit 20
  # messages containing a word, or matching a regex, in the last 5 minutes
  $LODE query --url http://$ADDR --since 5m timeout
  $LODE query --url http://$ADDR --since 5m --regex 'status=5\d\d'
  # counts by level and service, and a per-minute histogram
  curl -s 'http://$ADDR/api/v1/aggregate?by=level,service'
  $LODE query --url http://$ADDR --since 10m --count-by level --step 1m
  # what the server counted
  curl -s http://$ADDR/metrics

Press Ctrl-C to stop.
MSG
wait "$SERVE_PID"
