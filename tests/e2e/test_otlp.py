"""End to end: OTLP/HTTP logs from the OpenTelemetry JS SDK.

tests/clients/otlp_logs.js emits log records through the SDK's own exporters:
@opentelemetry/exporter-logs-otlp-http (JSON) and -otlp-proto (protobuf),
both installed by scripts/setup.sh from the npm registry. Every record must be
queryable with service.name → service, service.instance.id → instance, the
severity → level, the body → message, and resource and record attributes,
trace and span ids as attributes. Hand-made bodies then check the error and
partial-success answers.
"""
import json
import os
import subprocess
import sys
import time

from lodetest import (CLIENTS_DIR, SKIP, check, check_eq, npm_clients_missing, parse_args, run_tests,
                      wait_for_records)

CLIENTS = CLIENTS_DIR


def sdk(s, mode, count):
    out = subprocess.run(["node", os.path.join(CLIENTS, "otlp_logs.js"), s.url, str(count), mode],
                         capture_output=True, text=True, timeout=120)
    check_eq(out.returncode, 0, f"otlp_logs.js {mode}: {out.stderr[-800:]}")


def wait_for(s, service, want):
    return wait_for_records(s, want, service=service)


def check_sdk_records(got, n):
    check_eq(len(got), n, "every record")
    by_i = {int(r["message"].split()[1]): r for r in got}
    check_eq(sorted(by_i), list(range(n)), "each record once")
    for i, r in by_i.items():
        error = i % 5 == 0
        check_eq(r["message"], f"cart {i} {'checkout failed' if error else 'updated'}", "body")
        check_eq(r["level"], "error" if error else "info", f"level of record {i}")
        check_eq(r["instance"], "cart-7d9f-x2", "service.instance.id -> instance")
        check_eq(r["source"], "otlp", "source")
        a = r["attributes"]
        check_eq(a.get("k8s.namespace.name"), "shop", "resource attribute")
        check_eq(a.get("cart.items"), str(i), "record attribute (int)")
        check_eq(a.get("user.vip"), "true" if i % 2 == 0 else "false", "record attribute (bool)")
        check_eq(a.get("trace_id"), "5b8efff798038103d269b633813fc60c", "trace id")
        check_eq(a.get("span_id"), "eee19b7ec3c1b174", "span id")
        check_eq(a.get("otel.scope.name"), "cart-logger", "scope")
        check(abs(int(r["timestamp_ns"]) / 1e9 - time.time()) < 120, "timestamp is now")


def test_sdk_json_exporter(s):
    sdk(s, "json", 20)
    check_sdk_records(wait_for(s, "cart-json", 20), 20)


def test_sdk_proto_exporter(s):
    sdk(s, "proto", 20)
    check_sdk_records(wait_for(s, "cart-proto", 20), 20)


def test_errors_and_partial_success(s):
    r = s.post("/v1/logs", "{}", {"Content-Type": "text/plain"})
    check_eq(r.status, 400, f"wrong content type: {r}")
    check("application/x-protobuf" in r.json()["message"], f"says what it takes: {r}")
    r = s.post("/v1/logs", "not json", {"Content-Type": "application/json"})
    check_eq((r.status, r.json()["code"]), (400, 3), f"bad JSON: {r}")
    body = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "hand"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": str(int(time.time() * 1e9)), "severityNumber": 13,
             "body": {"kvlistValue": {"values": [
                 {"key": "event", "value": {"stringValue": "low disk"}},
                 {"key": "free_mb", "value": {"intValue": "512"}}]}}},
            "not a record"]}]}]}
    r = s.post("/v1/logs", json.dumps(body), {"Content-Type": "application/json"})
    check_eq(r.status, 200, f"partial: {r}")
    partial = r.json()["partialSuccess"]
    check_eq(partial["rejectedLogRecords"], "1", "the bad record is counted")
    check("logRecords[1]" in partial["errorMessage"], f"and named: {partial}")
    (rec,) = wait_for(s, "hand", 1)
    check_eq(json.loads(rec["message"]), {"event": "low disk", "free_mb": 512},
             "a structured body is kept as JSON")
    check_eq(rec["level"], "warn", "severity 13")
    r = s.post("/v1/logs", b"\x0a\x05\x0a\x03\x0a", {"Content-Type": "application/x-protobuf"})
    check_eq(r.status, 400, f"truncated protobuf: {r}")
    check(r.headers.get("Content-Type") == "application/x-protobuf", "a google.rpc.Status back")


def main():
    args = parse_args()
    missing = npm_clients_missing()
    if missing:
        print(f"SKIP: {missing}")
        return SKIP
    return run_tests([test_sdk_json_exporter, test_sdk_proto_exporter,
                      test_errors_and_partial_success], args.lode)


if __name__ == "__main__":
    sys.exit(main())
