"""End to end: ingest over HTTP in every accepted shape, then query it back.

Starts a real `lode serve` (loopback, temp dir), posts the DESIGN.md example
record, malformed and oversized bodies, compressed bodies, and a `lode gen`
batch whose ground truth the generator writes alongside; then checks the query
and aggregate APIs against that truth.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

from lodetest import (ConfigFile, check, check_eq, gzip_bytes, parse_args, run_tests)

EXAMPLE = ('{"message": "test 1", "level": "info", '
           '"timestamp": "Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)", '
           '"source": {"type": "http", "entity": "code-scanner-service", '
           '"entityInstance": "123.141.2.1"}}')
NDJSON = {"Content-Type": "application/x-ndjson"}


def test_example_record(s):
    r = s.post("/api/v1/logs", EXAMPLE, {"Content-Type": "application/json"})
    check_eq(r.status, 200, "status")
    check_eq(r.json(), {"accepted": 1, "rejected": 0}, "ingest answer")
    got = s.logs(service="code-scanner-service", level="info",
                 start="2024-11-14T15:00:00Z", end="2024-11-14T15:02:00Z")
    check_eq(len(got["records"]), 1, "records found")
    rec = got["records"][0]
    check_eq(rec["timestamp"], "2024-11-14T15:01:04Z", "timestamp")
    check_eq(rec["instance"], "123.141.2.1", "instance")
    check_eq(rec["source"], "http", "source")
    check_eq(rec["service"], "code-scanner-service", "service")
    check_eq(rec["level"], "info", "level")
    check_eq(rec["message"], "test 1", "message")
    # Outside the time range: not found.
    got = s.logs(service="code-scanner-service", start="2024-11-14T15:02:00Z",
                 end="2024-11-14T16:00:00Z")
    check_eq(got["records"], [], "records after the range")


def test_ndjson_with_one_malformed_line(s):
    lines = [json.dumps({"message": f"batch-a line {i}", "level": "warn", "service": "batch-a",
                         "ts": 1731596464 + i}) for i in range(1000)]
    lines[499] = '{"message": "broken", "level": '  # line 500
    r = s.post("/api/v1/logs", "\n".join(lines) + "\n", NDJSON)
    check_eq(r.status, 200, "status")
    body = r.json()
    check_eq(body["accepted"], 999, "accepted")
    check_eq(body["rejected"], 1, "rejected")
    check_eq(body["errors"][0]["line"], 500, "rejected line number")
    check("JSON" in body["errors"][0]["error"], f"reason names the problem: {body['errors'][0]}")
    got = s.logs(service="batch-a", limit=5000)
    check_eq(len(got["records"]), 999, "stored records")
    check("broken" not in {x["message"] for x in got["records"]}, "bad line not stored")


def test_every_line_bad(s):
    r = s.post("/api/v1/logs", "not json\n[1,2]\n\"str\"\n", NDJSON)
    check_eq(r.status, 400, "status when nothing is valid")
    body = r.json()
    check_eq(body["accepted"], 0, "accepted")
    check_eq([e["line"] for e in body["errors"]], [1, 2, 3], "rejected lines")
    check("object" in body["errors"][1]["error"], f"array line reason: {body['errors'][1]}")


def test_array_and_pretty_object(s):
    arr = json.dumps([{"msg": "arr one", "app": "arr-svc", "severity": "ERROR"},
                      {"msg": "arr two", "app": "arr-svc", "severity": 40},
                      "not an object"])
    r = s.post("/api/v1/logs", arr, {"Content-Type": "application/json"})
    check_eq(r.status, 200, "array status")
    check_eq(r.json()["accepted"], 2, "array accepted")
    check_eq(r.json()["errors"][0]["item"], 3, "array rejected item")
    levels = sorted(x["level"] for x in s.logs(service="arr-svc")["records"])
    check_eq(levels, ["error", "warn"], "array levels")
    pretty = json.dumps({"message": "pretty one", "service": "pretty-svc"}, indent=2)
    r = s.post("/api/v1/logs", pretty)
    check_eq(r.json(), {"accepted": 1, "rejected": 0}, "pretty object")
    check_eq(len(s.logs(service="pretty-svc")["records"]), 1, "pretty stored")


def test_plain_text(s):
    r = s.post("/api/v1/logs", "ERROR disk full on /var\nplain second line\n",
               {"Content-Type": "text/plain"})
    check_eq(r.json()["accepted"], 2, "text accepted")
    got = s.logs(contains="disk full on /var")["records"]
    check_eq(len(got), 1, "text line found")
    check_eq(got[0]["level"], "error", "level read from the message")
    check("timestamp_missing" in got[0].get("flags", []), "flagged as missing a timestamp")


def test_bad_timestamp_kept(s):
    r = s.post("/api/v1/logs", '{"message":"odd time","service":"ts-svc","time":"yesterday-ish"}')
    check_eq(r.json()["accepted"], 1, "accepted despite the timestamp")
    rec = s.logs(service="ts-svc")["records"][0]
    check_eq(rec["attributes"].get("original_timestamp"), "yesterday-ish", "original kept")
    check("timestamp_invalid" in rec.get("flags", []), "flagged")


def test_compressed_bodies(s):
    body = "\n".join(json.dumps({"message": f"zipped {i}", "service": "zip-svc"})
                     for i in range(50))
    r = s.post("/api/v1/logs", gzip_bytes(body), {"Content-Encoding": "gzip"})
    check_eq(r.json()["accepted"], 50, "gzip accepted")
    zst = subprocess.run(["zstd", "-q", "-c"], input=body.encode(), capture_output=True,
                         check=True).stdout
    r = s.post("/api/v1/logs", zst, {"Content-Encoding": "zstd"})
    check_eq(r.json()["accepted"], 50, "zstd accepted")
    check_eq(len(s.logs(service="zip-svc", limit=1000)["records"]), 100, "both stored")
    r = s.post("/api/v1/logs", b"\x1f\x8b garbage", {"Content-Encoding": "gzip"})
    check_eq(r.status, 400, "corrupt gzip")
    check("gzip" in r.json()["error"], f"names gzip: {r}")
    r = s.post("/api/v1/logs", body, {"Content-Encoding": "br"})
    check_eq(r.status, 400, "unsupported encoding")


def test_size_limits(s):
    # The server runs with --max-body 2MiB and max_line_bytes 256KiB (config file).
    big = ("x" * 1000 + "\n") * 3000
    r = s.post("/api/v1/logs", big, {"Content-Type": "text/plain"})
    check_eq(r.status, 413, "body over the limit")
    check("limit" in r.json()["error"], f"413 says why: {r}")
    long_line = json.dumps({"message": "y" * 300_000})
    r = s.post("/api/v1/logs", '{"message":"short"}\n' + long_line + "\n")
    check_eq(r.status, 413, "line over the limit")
    check("line 2" in r.json()["error"], f"413 names the line: {r}")
    # A zip bomb: small on the wire, over max_decoded_bytes decoded.
    r = s.post("/api/v1/logs", gzip_bytes(b"\n" * (20 << 20)), {"Content-Encoding": "gzip"})
    check_eq(r.status, 413, "decoded body over the limit")


def test_bad_query_parameters(s):
    cases = [("level=loud", "level"), ("start=notatime", "start"), ("limit=-3", "limit"),
             ("direction=sideways", "direction"), ("regex=(unclosed", "regex"),
             ("bogus=1", "bogus"), ("start=2024-11-15T00:00:00Z&end=2024-11-14T00:00:00Z", "start")]
    for query, name in cases:
        r = s.get("/api/v1/logs?" + query)
        check_eq(r.status, 400, f"status for {query}")
        check(name in r.json()["error"], f"error for {query} names {name}: {r}")
    r = s.get("/api/v1/aggregate?by=colour")
    check_eq(r.status, 400, "bad by")
    r = s.get("/api/v1/aggregate?by=level&step=1s&start=2000-01-01T00:00:00Z&end=2024-01-01T00:00:00Z")
    check_eq(r.status, 400, "too many buckets")
    r = s.get("/api/v1/nothing")
    check_eq(r.status, 404, "unknown endpoint")
    r = s.request("DELETE", "/api/v1/logs")
    check_eq(r.status, 405, "wrong method")


def test_tenants_are_separate(s):
    r = s.post("/api/v1/logs", '{"message":"tenant secret","service":"t-svc"}',
               {"X-Scope-OrgID": "team-a"})
    check_eq(r.json()["accepted"], 1, "tenant accepted")
    check_eq(s.logs(service="t-svc")["records"], [], "default tenant sees nothing")
    got = s.logs(headers={"X-Scope-OrgID": "team-a"}, service="t-svc")["records"]
    check_eq(len(got), 1, "team-a sees its record")
    r = s.post("/api/v1/logs", "{}", {"X-Scope-OrgID": "bad tenant!"})
    check_eq(r.status, 400, "invalid tenant")


def message_of(obj):
    for key in ("message", "msg", "log"):
        if isinstance(obj.get(key), str):
            m = obj[key]
            return m[:-1] if m.endswith("\n") else m
    raise ValueError(obj)


def test_generated_fleet(s):
    lode = s.lode
    with tempfile.TemporaryDirectory() as tmp:
        truth_path = os.path.join(tmp, "truth.tsv")
        out = subprocess.run([lode, "gen", "--count", "20000", "--seed", "7",
                              "--truth", truth_path, "--start", "2025-03-01T00:00:00Z",
                              "--interval", "50ms"],
                             capture_output=True, check=True).stdout.decode()
        lines = out.splitlines()
        with open(truth_path) as f:
            rows = [l.rstrip("\n").split("\t") for l in f][1:]
    check_eq(len(lines), 20000, "generated lines")
    check_eq(len(rows), 20000, "truth rows")
    headers = {"X-Scope-OrgID": "gen", "Content-Type": "application/x-ndjson"}
    for i in range(0, len(lines), 5000):
        r = s.post("/api/v1/logs", "\n".join(lines[i:i + 5000]), headers)
        check_eq(r.json(), {"accepted": 5000, "rejected": 0}, f"chunk {i}")
    h = {"X-Scope-OrgID": "gen"}

    def agg(**params):
        r = s.get("/api/v1/aggregate?" + "&".join(f"{k}={v}" for k, v in params.items()), h)
        check_eq(r.status, 200, f"aggregate {params}")
        return r.json()

    by_level = collections.Counter(r[1] for r in rows)
    got = {g["level"]: g["count"] for g in agg(by="level")["groups"]}
    check_eq(got, dict(by_level), "count by level")
    by_service = collections.Counter(r[2] for r in rows)
    got = {g["service"]: g["count"] for g in agg(by="service")["groups"]}
    check_eq(got, dict(by_service), "count by service")
    by_both = collections.Counter((r[1], r[2]) for r in rows)
    got = {(g["level"], g["service"]): g["count"] for g in agg(by="level,service")["groups"]}
    check_eq(got, dict(by_both), "count by level and service")

    # Per-minute histogram of one service, errors only.
    svc = by_service.most_common(1)[0][0]
    start_ns = 1740787200 * 10**9  # 2025-03-01T00:00:00Z
    buckets = collections.Counter()
    for r in rows:
        if r[2] == svc and r[1] == "error":
            buckets[int(r[0]) // 60_000_000_000 * 60] += 1
    got = agg(by="service", service=svc, level="error", step="1m",
              start="2025-03-01T00:00:00Z", end="2025-03-01T01:00:00Z")
    hist = {}
    import datetime
    for g in got["groups"]:
        for b in g["buckets"]:
            t = datetime.datetime.strptime(b["start"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            hist[int(t.timestamp())] = b["count"]
    check_eq(hist, dict(buckets), "per-minute error histogram")

    # Time range + level + service.
    lo, hi = start_ns + 100 * 10**9, start_ns + 200 * 10**9
    want = sorted(int(r[0]) for r in rows if lo <= int(r[0]) < hi and r[1] in ("warn", "error")
                  and r[2] == svc)
    got = s.logs(h, service=svc, level=["warn", "error"], start=str(lo), end=str(hi - 1),
                 limit=10000, direction="forward")
    check_eq([int(x["timestamp_ns"]) for x in got["records"]], want, "range+level+service")

    # Instance.
    inst = rows[0][3]
    want = sum(1 for r in rows if r[3] == inst)
    got = s.logs(h, instance=inst, limit=100000)
    check_eq(len(got["records"]), want, f"records of instance {inst}")

    # Contains and regex against the messages themselves.
    msgs = [message_of(json.loads(l)) for l in lines]
    needle = "timeout"
    want = sum(1 for m in msgs if needle in m)
    check(want > 0, "the fleet writes some timeouts")
    got = s.logs(h, contains=needle, limit=100000)
    check_eq(len(got["records"]), want, "contains")
    check_eq(got["stats"]["matched"], want, "stats.matched")
    pattern = r"status[= ]5\d\d"
    want = sum(1 for m in msgs if re.search(pattern, m))
    got = s.logs(h, regex=pattern, limit=100000)
    check_eq(len(got["records"]), want, "regex")
    # Newest first by default, and the limit holds.
    got = s.logs(h, limit=10)["records"]
    check_eq(len(got), 10, "limit")
    ts = [int(x["timestamp_ns"]) for x in got]
    check_eq(ts, sorted(ts, reverse=True), "newest first")
    check_eq(ts[0], max(int(r[0]) for r in rows), "the newest record first")


def test_metrics_and_probes(s):
    check_eq(s.get("/healthz").status, 200, "healthz")
    check_eq(s.get("/readyz").status, 200, "readyz")
    text = s.get("/metrics").body
    m = re.search(r'^lode_ingest_accepted_records_total\{source="http"\} (\d+)$', text, re.M)
    check(m and int(m.group(1)) > 0, "accepted records counted")
    check(re.search(r'^lode_ingest_rejected_records_total\{source="http"\} [1-9]', text, re.M),
          "rejected records counted")


def test_cli_query(s):
    since = ["--from", "2024-11-01T00:00:00Z"]  # the example record is from November 2024
    out = subprocess.run([s.lode, "query", "--url", s.url, "--service", "code-scanner-service",
                          "--output", "json", *since], capture_output=True, check=True).stdout
    result = json.loads(out)["data"]["result"]
    check_eq(result[0]["values"][0][1], "test 1", "lode query --output json (Loki shape)")
    out = subprocess.run([s.lode, "query", "--url", s.url, "test 1", *since], capture_output=True,
                         check=True).stdout.decode()
    check("code-scanner-service" in out and "INFO" in out, f"table output: {out!r}")
    out = subprocess.run([s.lode, "query", "--url", s.url, *since,
                          '{service="code-scanner-service"} |= "test"'],
                         capture_output=True, check=True).stdout.decode()
    check("test 1" in out, f"LogQL query: {out!r}")
    out = subprocess.run([s.lode, "query", "--url", s.url, *since, "--instant",
                          'sum by (service) (count_over_time({service="code-scanner-service"}[1000d]))'],
                         capture_output=True, check=True).stdout.decode()
    check(re.search(r'\{service="code-scanner-service"\}\s+1\b', out), f"metric query: {out!r}")
    bad = subprocess.run([s.lode, "query", "--url", s.url, "--level", "loud"],
                         capture_output=True)
    check(bad.returncode != 0, "non-zero exit on a bad query")
    check(b"level" in bad.stderr, "error names the parameter")
    bad = subprocess.run([s.lode, "query", "--url", s.url, "sum(rate({}[5m])"], capture_output=True)
    check(bad.returncode != 0 and b"col" in bad.stderr, f"syntax error with position: {bad.stderr!r}")


def main():
    args = parse_args()
    tests = [test_example_record, test_ndjson_with_one_malformed_line, test_every_line_bad,
             test_array_and_pretty_object, test_plain_text, test_bad_timestamp_kept,
             test_compressed_bodies, test_size_limits, test_bad_query_parameters,
             test_tenants_are_separate, test_generated_fleet, test_metrics_and_probes,
             test_cli_query]
    with ConfigFile("http:\n  max_line_bytes: 256KiB\n  max_decoded_bytes: 16MiB\n") as cfg:
        return run_tests(tests, args.lode, ["--config", cfg, "--max-body", "2MiB"])


if __name__ == "__main__":
    sys.exit(main())
