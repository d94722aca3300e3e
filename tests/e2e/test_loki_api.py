"""End to end: the Loki-compatible HTTP API (src/server/loki_api.cc) against
the shapes and rules of Grafana Loki's HTTP API documentation
(docs/sources/reference/loki-http-api.md in grafana/loki).

Starts a real `lode serve` (loopback, temp dir, two query workers), pushes
streams at fixed timestamps (a base time half an hour ago, rounded down to the
minute) and checks push, tenants, query_range (streams and matrix), query
(vector and scalar), statistics, labels, label values, series, index stats,
errors, the WebSocket tail, and that a query whose client went away stops
without hurting the server. Every expected value is computed here from the
pushed data; no assertion depends on how long something takes (only generous
timeouts guard against hangs).

Uses the standard library and the `websocket` module (Debian's
python3-websocket, websocket-client 1.2.3).
"""
import concurrent.futures
import datetime
import json
import re
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse

from lodetest import (SKIP, CheckFailed, ConfigFile, check, check_eq, gzip_bytes, parse_args,
                      run_tests)

try:
    import websocket  # python3-websocket
except ImportError:  # reported as a skip
    websocket = None

SEC = 10**9
NOW_S = int(time.time())
BASE_S = NOW_S // 60 * 60 - 1800  # fixed timestamps: half an hour ago, on a minute
BASE = BASE_S * SEC
WORKERS = 2  # query worker threads of the server under test (config below)
TIMEOUT = 20  # seconds: generous, only to turn a hang into a failure

TENANT = "loki-e2e"
V1 = "/loki/api/v1"

# The data of TENANT: (timestamp ns, line[, structured metadata]) per stream.
CHECKOUT_LABELS = {"service": "checkout", "level": "info", "instance": "i-1", "env": "prod"}
CHECKOUT = [(BASE + 10 * k * SEC, f"checkout request k={k} status={500 if k % 5 == 0 else 200}")
            for k in range(30)]
PAYMENTS_LABELS = {"app": "payments", "level": "error", "pod": "pod-7", "region": "eu"}
PAYMENTS = [(BASE + (5 + 20 * k) * SEC, f"payment failed id={k}", {"trace_id": f"t{k}"})
            for k in range(15)]
SEARCH_LABELS = {"service_name": "search", "level": "warn", "host": "h-2"}  # pushed gzipped
SEARCH = [(BASE + 30 * k * SEC, f"search slow query q{k}") for k in range(10)]
BULK = [(BASE + k * SEC, f"bulk line {k}") for k in range(150)]  # tenant BULK_TENANT
BULK_TENANT = "loki-e2e-bulk"


# ---------------------------------------------------------------------------
# Helpers


def rfc3339(secs, offset_hours=0):
    tz = datetime.timezone(datetime.timedelta(hours=offset_hours))
    return datetime.datetime.fromtimestamp(secs, tz).isoformat()


def tenant_headers(tenant, extra=None):
    h = {"X-Scope-OrgID": tenant} if tenant else {}
    h.update(extra or {})
    return h


def call(s, method, path, body=None, headers=None, timeout=TIMEOUT):
    """s.request, but a request the server never answers fails the check
    instead of hanging the test."""
    try:
        return s.request(method, path, body, headers, timeout=timeout)
    except (TimeoutError, socket.timeout):
        raise CheckFailed(f"{method} {path}: no answer within {timeout} s")
    except urllib.error.URLError as e:
        raise CheckFailed(f"{method} {path}: {e.reason}")


def api(s, path, params=None, tenant=TENANT, method="GET", expect=200):
    """A Loki API call with params in the URL (GET) or as a form body (POST)."""
    qs = urllib.parse.urlencode(params or {}, doseq=True)
    if method == "POST":
        r = call(s, "POST", path, qs,
                 tenant_headers(tenant, {"Content-Type": "application/x-www-form-urlencoded"}))
    else:
        r = call(s, "GET", path + ("?" + qs if qs else ""), None, tenant_headers(tenant))
    check_eq(r.status, expect, f"status of {method} {path} {params}: {r}")
    return r


def success(r, what):
    body = r.json()
    check_eq(body.get("status"), "success", f"{what}: status field")
    check("data" in body, f"{what}: has data: {r}")
    return body["data"]


def query_range(s, params, tenant=TENANT, method="GET"):
    return success(api(s, V1 + "/query_range", params, tenant, method), f"query_range {params}")


def instant(s, params, tenant=TENANT):
    return success(api(s, V1 + "/query", params, tenant), f"query {params}")


def push(s, streams, tenant=TENANT, gz=False):
    body = json.dumps({"streams": streams}).encode()
    headers = tenant_headers(tenant, {"Content-Type": "application/json"})
    if gz:
        body = gzip_bytes(body)
        headers["Content-Encoding"] = "gzip"
    return call(s, "POST", V1 + "/push", body, headers)


def push_ok(s, streams, tenant=TENANT, gz=False):
    r = push(s, streams, tenant, gz)
    check_eq(r.status, 204, f"push answer: {r}")
    check_eq(r.body, "", "push answers 204 with no body")


def stream_json(labels, entries):
    return {"stream": labels,
            "values": [[str(e[0]), e[1]] + ([e[2]] if len(e) > 2 else []) for e in entries]}


def check_streams_shape(data, what):
    check_eq(data.get("resultType"), "streams", f"{what}: resultType")
    check(isinstance(data.get("result"), list), f"{what}: result is a list")
    for st in data["result"]:
        check(isinstance(st.get("stream"), dict) and isinstance(st.get("values"), list),
              f"{what}: a stream is {{stream, values}}: {st}")
        for k, v in st["stream"].items():
            check(isinstance(k, str) and isinstance(v, str), f"{what}: labels are strings: {st}")
        for v in st["values"]:
            check(isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
                  and v[0].isdigit(), f"{what}: a value is [\"<ns>\", \"<line>\"]: {v}")


def entries_of(data, what="streams"):
    """All (ns, line) pairs of a streams answer, in answer order per stream."""
    check_streams_shape(data, what)
    return [(int(v[0]), v[1]) for st in data["result"] for v in st["values"]]


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_matrix(data, what):
    check_eq(data.get("resultType"), "matrix", f"{what}: resultType")
    for series in data["result"]:
        check(isinstance(series.get("metric"), dict) and isinstance(series.get("values"), list),
              f"{what}: a series is {{metric, values}}: {series}")
        for p in series["values"]:
            check(isinstance(p, list) and len(p) == 2 and is_number(p[0]) and isinstance(p[1], str),
                  f"{what}: a sample is [<unix seconds number>, \"<value>\"]: {p}")
        times = [p[0] for p in series["values"]]
        check_eq(times, sorted(times), f"{what}: samples oldest first")
    return data["result"]


def count_in_windows(timestamps, eval_times_s, range_s):
    """Loki's count_over_time: entries in (t - range, t] at each evaluation
    time t; steps with no entries have no sample."""
    out = []
    for t in eval_times_s:
        n = sum(1 for ts in timestamps if (t - range_s) * SEC < ts <= t * SEC)
        if n:
            out.append((t, n))
    return out


def points(series):
    return [(p[0], p[1]) for p in series["values"]]


# ---------------------------------------------------------------------------
# Status endpoints


def test_ready_and_buildinfo(s):
    r = call(s, "GET", "/ready")
    check_eq(r.status, 200, "/ready status")
    check_eq(r.body.strip(), "ready", "/ready body")
    r = call(s, "GET", V1 + "/status/buildinfo")
    check_eq(r.status, 200, "buildinfo status")
    info = r.json()
    for key in ("version", "revision", "branch", "buildDate", "buildUser", "goVersion"):
        check(isinstance(info.get(key), str), f"buildinfo has string {key}: {info}")
    check(info["version"] != "", "buildinfo version is set")


# ---------------------------------------------------------------------------
# Push


def test_push(s):
    push_ok(s, [stream_json(CHECKOUT_LABELS, CHECKOUT), stream_json(PAYMENTS_LABELS, PAYMENTS)])
    push_ok(s, [stream_json(SEARCH_LABELS, SEARCH)], gz=True)
    push_ok(s, [stream_json({"service": "bulk"}, BULK)], tenant=BULK_TENANT)
    got = entries_of(query_range(s, {"query": '{service=~"checkout|payments|search"}',
                                     "start": BASE_S, "end": BASE_S + 600, "limit": 1000}))
    check_eq(len(got), len(CHECKOUT) + len(PAYMENTS) + len(SEARCH), "all pushed entries stored")


def test_push_label_mapping(s):
    span = {"start": BASE_S, "end": BASE_S + 600, "limit": 1000, "direction": "forward"}
    cases = [('{service="checkout"}', CHECKOUT, {"service": "checkout", "level": "info",
                                                 "instance": "i-1"}),
             # app -> service, pod -> instance
             ('{service="payments"}', PAYMENTS, {"service": "payments", "level": "error",
                                                 "instance": "pod-7"}),
             # service_name -> service, host -> instance (the gzip push)
             ('{service="search"}', SEARCH, {"service": "search", "level": "warn",
                                             "instance": "h-2"}),
             ('{service_name="search"}', SEARCH, {"service": "search"})]
    for query, entries, labels in cases:
        data = query_range(s, dict(span, query=query))
        check_eq(entries_of(data, query), [(e[0], e[1]) for e in entries], f"entries of {query}")
        for st in data["result"]:
            for k, v in labels.items():
                check_eq(st["stream"].get(k), v, f"label {k} of {query} ({st['stream']})")
    # Other labels become attributes that label filters read.
    for query, want in [('{service="checkout"} | env="prod"', len(CHECKOUT)),
                        ('{service="checkout"} | env="dev"', 0),
                        ('{service="payments"} | region="eu"', len(PAYMENTS)),
                        ('{level="error"} | region=~"e."', len(PAYMENTS))]:
        check_eq(len(entries_of(query_range(s, dict(span, query=query)))), want, query)
    # Structured metadata (the third element of a value) is kept.
    got = entries_of(query_range(s, dict(span, query='{service="payments"} | trace_id="t3"')))
    check_eq(got, [(PAYMENTS[3][0], PAYMENTS[3][1])], "structured metadata trace_id=t3")


def test_push_partial_errors(s):
    t = BASE + 42 * SEC
    streams = [
        {"stream": {"service": "mixed"},
         "values": [[str(t), "mixed good 0"], ["yesterday", "mixed bad timestamp"],
                    [str(t + 2), 42], [str(t + 3), "mixed good 3"]]},
        {"stream": {"service": "mixed"}, "values": "not an array"},
        {"stream": {"service": "mixed", "level": "warn"},
         "values": [[str(t + 4), "mixed good 4"], ["only one element"]]},
    ]
    r = push(s, streams, tenant="loki-e2e-mixed")
    check_eq(r.status, 400, f"push with bad entries: {r}")
    check(r.headers.get("Content-Type", "").startswith("text/plain"),
          f"error is plain text: {r.headers}")
    for stream, value in [(0, 1), (0, 2), (1, None), (2, 1)]:
        pat = rf"stream {stream}\b" + (rf"\D+{value}\b" if value is not None else "")
        check(re.search(pat, r.body), f"message names stream {stream} value {value}: {r.body!r}")
    got = entries_of(query_range(s, {"query": '{service="mixed"}', "start": BASE_S,
                                     "end": BASE_S + 600, "direction": "forward"},
                                 tenant="loki-e2e-mixed"))
    check_eq(got, [(t, "mixed good 0"), (t + 3, "mixed good 3"), (t + 4, "mixed good 4")],
             "the good entries of the request are stored")


def test_tenant_isolation(s):
    line = (BASE + 7 * SEC, "tenant secret line")
    push_ok(s, [stream_json({"service": "secret-svc"}, [line])], tenant="iso-a")
    span = {"start": BASE_S, "end": BASE_S + 600}
    q = dict(span, query='{service="secret-svc"}')
    check_eq(entries_of(query_range(s, q, tenant="iso-a")), [line], "tenant iso-a sees its line")
    check_eq(query_range(s, q, tenant="iso-b")["result"], [], "tenant iso-b sees nothing")
    check_eq(query_range(s, q, tenant=None)["result"], [], "the default tenant sees nothing")
    vals = success(api(s, V1 + "/label/service/values", span, tenant="iso-b"), "values")
    check("secret-svc" not in vals, f"iso-b label values: {vals}")
    vals = success(api(s, V1 + "/label/service/values", span, tenant="iso-a"), "values")
    check_eq(vals, ["secret-svc"], "iso-a label values")
    ser = success(api(s, V1 + "/series", dict(span, **{"match[]": '{service="secret-svc"}'}),
                      tenant="iso-b"), "series")
    check_eq(ser, [], "iso-b series")
    st = api(s, V1 + "/index/stats", q, tenant="iso-b").json()
    check_eq(st.get("entries"), 0, "iso-b index stats entries")
    vec = instant(s, {"query": 'count_over_time({service="secret-svc"}[1h])',
                      "time": BASE_S + 600}, tenant="iso-b")
    check_eq(vec["result"], [], "iso-b instant count")


# ---------------------------------------------------------------------------
# query_range: streams


def test_query_range_streams(s):
    span = {"query": '{service="checkout"}', "start": BASE_S, "end": BASE_S + 600, "limit": 1000}
    forward = [(e[0], e[1]) for e in CHECKOUT]
    backward = forward[::-1]
    data = query_range(s, dict(span, direction="forward"))
    check_eq(len(data["result"]), 1, "one stream")
    check_eq(entries_of(data), forward, "direction=forward: oldest first")
    check_eq(entries_of(query_range(s, dict(span, direction="backward"))), backward,
             "direction=backward: newest first")
    check_eq(entries_of(query_range(s, span)), backward, "default direction is backward")
    check_eq(entries_of(query_range(s, dict(span, limit=7))), backward[:7], "limit 7 backward")
    check_eq(entries_of(query_range(s, dict(span, limit=7, direction="forward"))), forward[:7],
             "limit 7 forward")
    # The limit applies to the whole answer, across streams.
    both = sorted([(e[0], e[1]) for e in CHECKOUT + PAYMENTS], reverse=True)
    data = query_range(s, {"query": '{service=~"checkout|payments"}', "start": BASE_S,
                           "end": BASE_S + 600, "limit": 10})
    check_eq(len(data["result"]), 2, "two streams")
    for st in data["result"]:
        ts = [int(v[0]) for v in st["values"]]
        check_eq(ts, sorted(ts, reverse=True), f"each stream newest first ({st['stream']})")
    check_eq(sorted(entries_of(data), reverse=True), both[:10], "the newest 10 of both streams")
    # Without a limit: 100.
    data = query_range(s, {"query": '{service="bulk"}', "start": BASE_S, "end": BASE_S + 600},
                       tenant=BULK_TENANT)
    check_eq(entries_of(data), [(e[0], e[1]) for e in BULK][::-1][:100], "default limit 100")


def test_query_range_time_parameters(s):
    q = '{service="checkout"}'
    want = [(e[0], e[1]) for e in CHECKOUT]

    def got(**params):
        return entries_of(query_range(s, dict(params, query=q, limit=1000, direction="forward")))

    # start is inclusive, end exclusive ("timestamp lower than this value").
    check_eq(got(start=str(BASE + 10 * SEC), end=str(BASE + 290 * SEC)), want[1:29],
             "start inclusive, end exclusive (nanoseconds)")
    forms = {"RFC 3339": (rfc3339(BASE_S), rfc3339(BASE_S + 600)),
             "RFC 3339 with offset": (rfc3339(BASE_S, 2), rfc3339(BASE_S + 600, -5)),
             "RFC 3339 nano": (rfc3339(BASE_S).replace("+00:00", ".000000000Z"),
                               rfc3339(BASE_S + 600).replace("+00:00", ".5Z")),
             "Unix seconds": (str(BASE_S), str(BASE_S + 600)),
             "Unix seconds with fraction": (f"{BASE_S}.000", f"{BASE_S + 600}.250"),
             "nanoseconds": (str(BASE), str(BASE + 600 * SEC))}
    for name, (start, end) in forms.items():
        check_eq(got(start=start, end=end), want, f"start/end as {name} ({start}, {end})")
    check_eq(got(start=rfc3339(BASE_S + 60), end=str(BASE_S + 120)), want[6:12],
             "mixed forms: [base+60s, base+120s)")
    # since: start = end - since.
    check_eq(got(end=str(BASE_S + 300), since="2m"), want[18:30], "since=2m before end")
    check_eq(got(end=str(BASE_S + 300), since="2m", start=str(BASE_S + 250)), want[25:30],
             "start wins over since")
    # POST with a form body answers as GET does.
    for params in [{"query": q, "start": BASE_S, "end": BASE_S + 600, "limit": 5},
                   {"query": f"count_over_time({q}[1m])", "start": BASE_S, "end": BASE_S + 300,
                    "step": 60}]:
        a = query_range(s, params)
        b = query_range(s, params, method="POST")
        check_eq(b["result"], a["result"], f"POST form body == GET for {params['query']}")


# ---------------------------------------------------------------------------
# query_range: matrix


def test_query_range_matrix(s):
    ts_checkout = [e[0] for e in CHECKOUT]
    ts_payments = [e[0] for e in PAYMENTS]
    evals = [BASE_S + 60 * i for i in range(6)]
    params = {"query": 'count_over_time({service="checkout"}[1m])', "start": BASE_S,
              "end": BASE_S + 300, "step": 60}
    result = check_matrix(query_range(s, params), "count_over_time")
    check_eq(len(result), 1, "one series")
    check_eq(result[0]["metric"].get("service"), "checkout", "series labels")
    want = [(t, str(n)) for t, n in count_in_windows(ts_checkout, evals, 60)]
    check_eq(points(result[0]), want, "count_over_time[1m] every 60s")
    for step in ("1m", "60s", "60.0"):
        again = check_matrix(query_range(s, dict(params, step=step)), f"step={step}")
        check_eq(again, result, f"step={step} == step=60")

    # Start/end forms give the same evaluation times.
    for start, end in [(rfc3339(BASE_S), rfc3339(BASE_S + 300)), (str(BASE), str(BASE + 300 * SEC)),
                       (f"{BASE_S}.000", f"{BASE_S + 300}.000")]:
        again = check_matrix(query_range(s, dict(params, start=start, end=end)), "forms")
        check_eq(again, result, f"matrix with start={start} end={end}")

    # sum by (level): one series per level, labelled by level only.
    data = query_range(s, {"query": 'sum by (level) '
                                    '(count_over_time({service=~"checkout|payments"}[1m]))',
                           "start": BASE_S, "end": BASE_S + 300, "step": 60})
    by_level = {tuple(sorted(x["metric"].items())): points(x)
                for x in check_matrix(data, "sum by (level)")}
    check_eq(by_level, {
        (("level", "info"),): [(t, str(n)) for t, n in count_in_windows(ts_checkout, evals, 60)],
        (("level", "error"),): [(t, str(n)) for t, n in count_in_windows(ts_payments, evals, 60)],
    }, "sum by (level)")

    # rate = count / range seconds.
    evals30 = [BASE_S + 30 * i for i in range(11)]
    data = query_range(s, {"query": 'rate({service="payments"}[2m])', "start": BASE_S,
                           "end": BASE_S + 300, "step": 30})
    series = check_matrix(data, "rate")
    check_eq(len(series), 1, "rate: one series")
    want = [(t, n / 120) for t, n in count_in_windows(ts_payments, evals30, 120)]
    got = [(p[0], float(p[1])) for p in series[0]["values"]]
    check_eq([t for t, _ in got], [t for t, _ in want], "rate: sample times")
    for (t, v), (_, w) in zip(got, want):
        check(abs(v - w) <= 1e-12 * max(1, abs(w)), f"rate at {t}: want {w}, got {v}")


def test_query_range_default_step(s):
    # Loki's default step is max(floor((end - start) / 250 s), 1) seconds
    # (pkg/loghttp/params.go, defaultQueryRangeStep).
    q = 'count_over_time({service="checkout"}[10m])'
    for span_s in (500, 3600):
        step = max(span_s // 250, 1)
        data = query_range(s, {"query": q, "start": BASE_S, "end": BASE_S + span_s})
        series = check_matrix(data, "default step")
        check_eq(len(series), 1, "one series")
        times = [p[0] for p in series[0]["values"]]
        ts_checkout = [e[0] for e in CHECKOUT]
        evals = [BASE_S + step * i for i in range(span_s // step + 1)]
        want = count_in_windows(ts_checkout, evals, 600)
        check_eq(times[:3], [t for t, _ in want][:3],
                 f"sample times with no step over {span_s}s (Loki's default step {step}s)")
        check_eq(points(series[0]), [(t, str(n)) for t, n in want],
                 f"samples with the default step over {span_s}s")


# ---------------------------------------------------------------------------
# query: vector and scalar


def test_instant_query(s):
    q = 'count_over_time({service="checkout"}[1m])'
    t = BASE_S + 60
    want_n = count_in_windows([e[0] for e in CHECKOUT], [t], 60)[0][1]
    for time_param in (str(t), rfc3339(t), str(t * SEC), f"{t}.000"):
        data = instant(s, {"query": q, "time": time_param})
        check_eq(data.get("resultType"), "vector", "resultType")
        check_eq(len(data["result"]), 1, f"one sample ({data['result']})")
        sample = data["result"][0]
        check(isinstance(sample.get("metric"), dict), f"vector sample has metric: {sample}")
        check_eq(sample["metric"].get("service"), "checkout", "sample labels")
        v = sample.get("value")
        check(isinstance(v, list) and len(v) == 2 and is_number(v[0]) and isinstance(v[1], str),
              f"value is [<unix seconds number>, \"<value>\"]: {v}")
        check_eq(v, [t, str(want_n)], f"value at time={time_param}")
    # Windows are left-open: the line stamped exactly at t - 10m is out.
    t = BASE_S + 600
    all_ts = [e[0] for e in CHECKOUT + PAYMENTS + SEARCH]
    want_n = count_in_windows(all_ts, [t], 600)[0][1]
    data = instant(s, {"query": 'sum(count_over_time({service=~"checkout|payments|search"}[10m]))',
                       "time": str(t)})
    check_eq(data["result"], [{"metric": {}, "value": [t, str(want_n)]}], "sum over three services")
    # A scalar: Prometheus' shape, [<unix seconds>, "<value>"].
    data = instant(s, {"query": "1+1", "time": str(BASE_S)})
    check_eq(data.get("resultType"), "scalar", "1+1 resultType")
    check_eq(data.get("result"), [BASE_S, "2"], "1+1 result")


def test_stats(s):
    for params in [{"query": '{service="checkout"}', "start": BASE_S, "end": BASE_S + 600},
                   {"query": 'count_over_time({service="checkout"}[1m])', "start": BASE_S,
                    "end": BASE_S + 300, "step": 60}]:
        data = query_range(s, params)
        stats = data.get("stats")
        check(isinstance(stats, dict), f"data.stats present: {data}")
        summary = stats.get("summary")
        check(isinstance(summary, dict), f"stats.summary present: {stats}")
        for key in ("bytesProcessedPerSecond", "linesProcessedPerSecond", "totalBytesProcessed",
                    "totalLinesProcessed", "execTime", "queueTime"):
            check(is_number(summary.get(key)) and summary[key] >= 0,
                  f"summary.{key} is a non-negative number: {summary}")
        check(summary["totalLinesProcessed"] >= len(CHECKOUT),
              f"totalLinesProcessed counts the lines read: {summary}")
    data = instant(s, {"query": "1+1"})
    check(isinstance(data.get("stats", {}).get("summary", {}).get("execTime"), (int, float)),
          f"instant query has stats.summary.execTime: {data}")


def test_stats_bytes_processed(s):
    # Lines processed imply bytes processed ("Total amount of bytes processed
    # overall for this request"), wherever the lines were read from —
    # including lines not yet flushed to a segment, as these fresh ones.
    lines = [(BASE + k * SEC, f"fresh stats line number {k}") for k in range(5)]
    push_ok(s, [stream_json({"service": "fresh"}, lines)], tenant="loki-e2e-stats")
    data = query_range(s, {"query": '{service="fresh"}', "start": BASE_S, "end": BASE_S + 600},
                       tenant="loki-e2e-stats")
    check_eq(len(entries_of(data)), 5, "fresh lines found")
    summary = data["stats"]["summary"]
    check(summary["totalLinesProcessed"] >= 5, f"lines processed: {summary}")
    check(summary["totalBytesProcessed"] >= sum(len(l) for _, l in lines),
          f"totalBytesProcessed covers the {summary['totalLinesProcessed']} lines processed: "
          f"{summary}")


# ---------------------------------------------------------------------------
# labels, label values, series, index stats


def test_labels_and_values(s):
    span = {"start": BASE_S, "end": BASE_S + 600}
    names = success(api(s, V1 + "/labels", span), "labels")
    check(isinstance(names, list) and all(isinstance(n, str) for n in names),
          f"labels is a list of strings: {names}")
    check({"service", "level", "instance"} <= set(names), f"indexed labels listed: {names}")
    check_eq(names, sorted(names), "labels sorted")

    def values(name, **extra):
        return success(api(s, f"{V1}/label/{name}/values", dict(span, **extra)), f"{name} values")

    check_eq(values("service"), ["checkout", "payments", "search"], "service values")
    check_eq(values("service_name"), ["checkout", "payments", "search"], "service_name values")
    check_eq(values("level"), ["error", "info", "warn"], "level values")
    check_eq(values("instance"), ["h-2", "i-1", "pod-7"], "instance values")
    check_eq(values("service", query='{level="error"}'), ["payments"], "service values of errors")
    check_eq(values("level", query='{service=~"checkout|search"}'), ["info", "warn"],
             "level values of two services")
    check_eq(values("no_such_label"), [], "values of an unknown label")
    names = success(api(s, V1 + "/labels", dict(span, query='{service="checkout"}')), "labels")
    check({"service", "level", "instance"} <= set(names), f"labels of a selector: {names}")
    # Outside the data's time range: nothing.
    check_eq(success(api(s, V1 + "/label/service/values",
                         {"start": BASE_S - 7200, "end": BASE_S - 3600}), "values"), [],
             "service values before the data")


def test_labels_default_range(s):
    # "start: ... Defaults to 6 hours ago." (labels and label values)
    t = (NOW_S - 3 * 3600) * SEC
    push_ok(s, [stream_json({"service": "three-hours-ago"}, [(t, "an older line")])],
            tenant="loki-e2e-6h")
    vals = success(api(s, V1 + "/label/service/values", tenant="loki-e2e-6h"), "values")
    check_eq(vals, ["three-hours-ago"], "label values with the default range (6 h) "
             "include a stream from 3 h ago")
    names = success(api(s, V1 + "/labels", tenant="loki-e2e-6h"), "labels")
    check("service" in names, f"labels with the default range (6 h): {names}")


def test_series(s):
    params = {"match[]": ['{service="checkout"}', '{service="search"}'],
              "start": BASE_S, "end": BASE_S + 600}
    for method in ("GET", "POST"):
        data = success(api(s, V1 + "/series", params, method=method), f"series {method}")
        check(isinstance(data, list) and all(isinstance(x, dict) for x in data),
              f"series is a list of label sets: {data}")
        for ls in data:
            check(all(isinstance(k, str) and isinstance(v, str) for k, v in ls.items()),
                  f"labels are strings: {ls}")
        check_eq(sorted(x.get("service") for x in data), ["checkout", "search"],
                 f"{method}: one label set per matched stream")
        search = [x for x in data if x.get("service") == "search"][0]
        check_eq((search.get("level"), search.get("instance")), ("warn", "h-2"), "search labels")
    data = success(api(s, V1 + "/series", {"match[]": '{level="error"}', "start": BASE_S,
                                           "end": BASE_S + 600}), "series")
    check_eq([(x.get("service"), x.get("instance")) for x in data], [("payments", "pod-7")],
             "series of level=error")


def test_index_stats(s):
    span = {"start": BASE_S, "end": BASE_S + 600}
    for query, entries, streams in [('{service="checkout"}', CHECKOUT, 1),
                                    ('{service=~"checkout|payments"}', CHECKOUT + PAYMENTS, 2)]:
        r = api(s, V1 + "/index/stats", dict(span, query=query))
        st = r.json()
        check_eq(sorted(st), ["bytes", "chunks", "entries", "streams"], f"index stats keys: {st}")
        check(all(isinstance(v, int) and not isinstance(v, bool) for v in st.values()),
              f"index stats values are integers: {st}")
        check_eq(st["entries"], len(entries), f"entries of {query}")
        check_eq(st["streams"], streams, f"streams of {query}")
        check(st["chunks"] >= 1, f"chunks of {query}: {st}")
        check(st["bytes"] >= sum(len(e[1]) for e in entries), f"bytes of {query}: {st}")
    st = api(s, V1 + "/index/stats", dict(span, query='{service="nope"}')).json()
    check_eq((st["entries"], st["streams"], st["bytes"]), (0, 0, 0), "stats of no stream")
    st = api(s, V1 + "/index/stats", {"query": '{service="checkout"}', "start": BASE_S + 100,
                                      "end": BASE_S + 200}).json()
    check_eq(st["entries"], 10, "entries in [base+100s, base+200s)")


def test_index_stats_post_form(s):
    # "You can URL-encode these parameters directly in the request body by
    # using the POST method and Content-Type: application/x-www-form-urlencoded"
    r = api(s, V1 + "/index/stats", {"query": '{service="checkout"}', "start": BASE_S,
                                     "end": BASE_S + 600}, method="POST")
    check_eq(r.json().get("entries"), len(CHECKOUT), "POST index stats entries")


# ---------------------------------------------------------------------------
# Errors


def test_errors(s):
    span = {"start": BASE_S, "end": BASE_S + 600}
    sel = '{service="checkout"}'
    metric = f"count_over_time({sel}[1m])"
    # (what, method, path, params, status, regex the plain-text body must match)
    cases = [
        ("syntax error", "GET", "/query_range", dict(span, query='{service="checkout"'),
         400, r"line \d+, col(umn)? \d+"),
        ("syntax error in a metric query", "GET", "/query_range",
         dict(span, query='sum(rate({service="x"}[1m]) by'), 400, r"line \d+, col(umn)? \d+"),
        ("syntax error, instant", "GET", "/query", {"query": "{service=}"}, 400,
         r"line \d+, col(umn)? \d+"),
        ("syntax error, POST form", "POST", "/query_range", dict(span, query="foo"), 400,
         r"line \d+, col(umn)? \d+"),
        ("limit above the maximum", "GET", "/query_range", dict(span, query=sel, limit=5001),
         400, r"limit"),
        ("bad start", "GET", "/query_range", dict(span, query=sel, start="yesterday"),
         400, r"start"),
        ("bad end", "GET", "/query_range", dict(span, query=sel, end="2024-13-45"), 400, r"end"),
        ("bad time", "GET", "/query", {"query": metric, "time": "noon"}, 400, r"time"),
        ("bad step", "GET", "/query_range", dict(span, query=metric, step="often"), 400, r"step"),
        ("zero step", "GET", "/query_range", dict(span, query=metric, step="0"), 400,
         r"step|resolution"),
        ("bad direction", "GET", "/query_range", dict(span, query=sel, direction="sideways"),
         400, r"direction"),
        ("end before start", "GET", "/query_range",
         {"query": sel, "start": BASE_S + 600, "end": BASE_S}, 400, r"end|start"),
        ("missing query", "GET", "/query_range", span, 400, r"query"),
        ("bad start, labels", "GET", "/labels", {"start": "yesterday"}, 400, r"start"),
        ("bad start, series", "GET", "/series", {"match[]": sel, "start": "yesterday"}, 400,
         r"start"),
        ("bad selector, series", "GET", "/series", {"match[]": "{service="}, 400,
         r"line \d+, col(umn)? \d+"),
        ("bad start, index stats", "GET", "/index/stats", {"query": sel, "start": "yesterday"},
         400, r"start"),
        ("unknown endpoint", "GET", "/nothing", {}, 404, None),
    ]

    def run(case):
        what, method, path, params, status, pattern = case
        qs = urllib.parse.urlencode(params, doseq=True)
        try:
            if method == "POST":
                r = s.request("POST", V1 + path, qs, tenant_headers(
                    TENANT, {"Content-Type": "application/x-www-form-urlencoded"}),
                    timeout=TIMEOUT)
            else:
                r = s.request("GET", f"{V1}{path}?{qs}", None, tenant_headers(TENANT),
                              timeout=TIMEOUT)
        except (OSError, urllib.error.URLError) as e:
            return f"{what}: {method} {path} {params}: no answer ({e})"
        if r.status != status:
            return f"{what}: {method} {path} {params}: want HTTP {status}, got {r}"
        if pattern is None:
            return None
        if not r.headers.get("Content-Type", "").startswith("text/plain"):
            return f"{what}: want a plain-text error, got {r.headers.get('Content-Type')}: {r}"
        if not re.search(pattern, r.body):
            return f"{what}: the message should match /{pattern}/: {r.body!r}"
        return None

    # In parallel, so that requests the server never answers cost one timeout.
    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        problems = [p for p in pool.map(run, cases) if p]
    r = call(s, "POST", V1 + "/push", "{not json", tenant_headers(TENANT, {
        "Content-Type": "application/json"}))
    if r.status != 400 or not r.headers.get("Content-Type", "").startswith("text/plain"):
        problems.append(f"push of invalid JSON: want a plain-text 400, got {r}")
    check(not problems, f"{len(problems)} of {len(cases) + 1} error cases wrong:\n  " +
          "\n  ".join(problems))


def test_logfmt_flags(s):
    """| logfmt skips keys without a value and malformed pairs; --keep-empty keeps
    the former as "", --strict marks the line at the latter (Loki's flags)."""
    tenant = "loki-e2e-logfmt"
    lines = [(BASE + 100 * SEC, "INFO method=GET status=200"),
             (BASE + 101 * SEC, "method=GET bad=a=b status=500")]
    push_ok(s, [stream_json({"service": "fmt"}, lines)], tenant=tenant)
    span = {"start": BASE_S, "end": BASE_S + 600, "direction": "forward"}

    def labels(query):
        data = query_range(s, dict(span, query=query), tenant=tenant)
        check_streams_shape(data, query)
        by_line = {v[1]: st["stream"] for st in data["result"] for v in st["values"]}
        check_eq(sorted(by_line), sorted(l for _, l in lines), f"{query}: every line")
        return [{k: v for k, v in by_line[l].items() if k not in ("service", "level", "source")}
                for _, l in lines]

    check_eq(labels('{service="fmt"} | logfmt'),
             [{"method": "GET", "status": "200"}, {"method": "GET", "status": "500"}],
             "default: INFO and bad=a=b skipped, no error")
    check_eq(labels('{service="fmt"} | logfmt --keep-empty'),
             [{"INFO": "", "method": "GET", "status": "200"},
              {"method": "GET", "status": "500"}], "--keep-empty keeps INFO as \"\"")
    check_eq(labels('{service="fmt"} | logfmt --strict'),
             [{"method": "GET", "status": "200"},
              {"method": "GET", "__error__": "LogfmtParserErr",
               "__error_details__": "logfmt syntax error at pos 17 : unexpected '='"}],
             "--strict: the pairs before bad=a=b, and the error")
    data = query_range(s, dict(span, query='sum(count_over_time({service="fmt"} | logfmt [1h]))',
                               step=60), tenant=tenant)
    check_eq(sum(float(v[1]) for st in data["result"] for v in st["values"][-1:]), 2.0,
             "a metric query over | logfmt needs no __error__ filter")
    r = api(s, V1 + "/query_range", dict(span, query='{service="fmt"} | logfmt --strict --nope'),
            tenant=tenant, expect=400)
    check(re.search(r'line 1, col 35: unknown logfmt flag "--nope"', r.body),
          f"an unknown flag is a parse error naming it: {r.body!r}")


# ---------------------------------------------------------------------------
# Tail


def tail_connect(s, query, tenant, **params):
    url = (f"ws://127.0.0.1:{s.port}{V1}/tail?" +
           urllib.parse.urlencode({"query": query, **params}))
    return websocket.create_connection(url, timeout=TIMEOUT,
                                       header=[f"X-Scope-OrgID: {tenant}"])


def tail_message(ws, what):
    """One tail message, shape-checked; returns its (ns, line) entries."""
    try:
        opcode, payload = ws.recv_data()
    except websocket.WebSocketTimeoutException:
        raise CheckFailed(f"{what}: no tail message within {TIMEOUT} s")
    check_eq(opcode, websocket.ABNF.OPCODE_TEXT, f"{what}: a text message ({payload[:200]!r})")
    msg = json.loads(payload)
    check_eq(sorted(msg), ["dropped_entries", "streams"], f"{what}: message keys")
    check(msg["dropped_entries"] is None, f"{what}: dropped_entries is null: {msg}")
    return entries_of({"resultType": "streams", "result": msg["streams"]}, what)


def tail_until(ws, want_line, what):
    """Entries of the messages received until one carries `want_line`."""
    got = []
    deadline = time.time() + TIMEOUT
    while not any(line == want_line for _, line in got):
        check(time.time() < deadline, f"{what}: {want_line!r} not received in {TIMEOUT} s; "
              f"got {got}")
        got += tail_message(ws, what)
    return got


def test_tail_live(s):
    tenant, labels = "loki-e2e-tail", {"service": "tailsvc"}
    now = time.time_ns()
    backlog = [(now - 60 * SEC, "tail backlog line")]
    push_ok(s, [stream_json(labels, backlog)], tenant=tenant)
    ws = tail_connect(s, '{service="tailsvc"}', tenant)
    try:
        check_eq(tail_message(ws, "backlog"), backlog, "the first message is the backlog")
        now = time.time_ns()
        live = [(now + k, f"tail live line {k}") for k in range(3)]
        push_ok(s, [stream_json(labels, live)], tenant=tenant)
        got = tail_until(ws, live[-1][1], "live lines")
        check_eq(sorted(got), live, "the live lines, once each, no backlog again")
    finally:
        ws.close()


def test_tail_pipeline_and_tenant(s):
    tenant, labels = "loki-e2e-tailpipe", {"service": "tailpipe"}
    query = '{service="tailpipe"} |= "boom" | logfmt | status >= 500'
    now = time.time_ns()
    push_ok(s, [stream_json(labels, [(now - 30 * SEC, "msg=boom status=502 phase=old"),
                                     (now - 29 * SEC, "msg=boom status=200 phase=old")])],
            tenant=tenant)
    ws = tail_connect(s, query, tenant)
    try:
        check_eq([l for _, l in tail_message(ws, "backlog")], ["msg=boom status=502 phase=old"],
                 "the backlog passes through the pipeline")
        now = time.time_ns()
        lines = ["msg=boom status=503 n=1", "msg=boom status=200 n=2", "msg=calm status=500 n=3",
                 'msg="boom again" status=500 n=4']
        push_ok(s, [stream_json(labels, [(now + i, l) for i, l in enumerate(lines)])],
                tenant=tenant)
        push_ok(s, [stream_json(labels, [(now + 10, "msg=boom status=599 other tenant")])],
                tenant="loki-e2e-tailother")
        # Lines arrive in push order: once the sentinel is in, so is the rest.
        sentinel = "msg=boom status=504 sentinel"
        push_ok(s, [stream_json(labels, [(now + 20, sentinel)])], tenant=tenant)
        got = sorted(l for _, l in tail_until(ws, sentinel, "live lines"))
        check_eq(got, sorted([lines[0], lines[3], sentinel]),
                 "only lines passing |= \"boom\" | logfmt | status >= 500, of this tenant")
    finally:
        ws.close()


def test_tail_refuses_metric_query(s):
    ws = tail_connect(s, 'count_over_time({service="tailsvc"}[1m])', "loki-e2e-tail")
    try:
        try:
            opcode, payload = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            raise CheckFailed("the connection was dropped without a close frame and reason")
        except websocket.WebSocketTimeoutException:
            raise CheckFailed(f"a metric tail was neither refused nor answered in {TIMEOUT} s")
        check_eq(opcode, websocket.ABNF.OPCODE_CLOSE, f"a close frame, not {payload[:200]!r}")
        check(len(payload) > 2, "the close frame carries a code and a reason")
        code = int.from_bytes(payload[:2], "big")
        reason = payload[2:].decode(errors="replace")
        check(code != 1000, f"not a normal closure: {code} {reason!r}")
        check(re.search(r"metric|log query", reason), f"the reason says why: {code} {reason!r}")
    finally:
        ws.close()


def test_tail_categorized_and_cross_origin_refused(s):
    tenant = "loki-e2e-tailcat"
    now = time.time_ns()
    push_ok(s, [{"stream": {"service": "tailcat", "k8s_ns": "prod"},
                 "values": [[str(now - SEC), "status=503 msg=down"]]}], tenant=tenant)
    # categorize_labels=true (browsers cannot set the header on a WebSocket): entries carry
    # their metadata and parsed labels, streams only the indexed labels.
    ws = tail_connect(s, '{service="tailcat"} | logfmt', tenant, categorize_labels="true")
    try:
        opcode, payload = ws.recv_data()
        (stream,) = json.loads(payload)["streams"]
        check_eq(sorted(stream["stream"]), ["level", "service", "source"],
                 "stream labels: indexed only")
        (value,) = stream["values"]
        check_eq(value[1], "status=503 msg=down", "the line")
        check_eq(value[2]["parsed"], {"msg": "down", "status": "503"}, "parsed labels")
        check_eq(value[2]["structuredMetadata"].get("k8s_ns"), "prod", "structured metadata")
    finally:
        ws.close()
    # A page of another site may not open a tail through its visitor's browser.
    url = f"ws://127.0.0.1:{s.port}{V1}/tail?" + urllib.parse.urlencode({"query": "{}"})
    try:
        websocket.create_connection(url, timeout=TIMEOUT, origin="http://evil.example")
        raise CheckFailed("a cross-origin WebSocket was accepted")
    except websocket.WebSocketBadStatusException as e:
        check_eq(e.status_code, 403, f"cross-origin tail refused: {e}")
    ok = websocket.create_connection(url, timeout=TIMEOUT, origin=f"http://127.0.0.1:{s.port}")
    ok.close()


# ---------------------------------------------------------------------------
# Cancellation


def test_cancelled_queries_stop(s):
    """Slow queries whose clients hang up stop: with two for every query
    worker, all abandoned, a following query is still answered."""
    tenant = "loki-e2e-slow"
    start_s = BASE_S - 900
    subprocess.run([s.lode, "gen", "--count", "300000", "--url", s.url, "--tenant", tenant,
                    "--start", str(start_s), "--interval", "1ms", "--batch", "1000", "--quiet"],
                   check=True, capture_output=True, timeout=300)
    st = api(s, V1 + "/index/stats", {"query": '{service=~".+"}', "start": start_s,
                                      "end": start_s + 3600}, tenant=tenant).json()
    check_eq(st["entries"], 300000, "the generated lines are stored")
    # 24 regexes RE2 can't turn into a small DFA, each over every line: over
    # a minute of work per query on the machine this was written on.
    pattern = r"\w{5}\s\w{4,6}.{1,80}\d{9}"
    filters = " ".join(f"!~ `{pattern}{i}`" for i in range(24))
    slow = f'sum(count_over_time({{service=~".+"}} {filters} [1h]))'
    target = V1 + "/query_range?" + urllib.parse.urlencode(
        {"query": slow, "start": start_s, "end": start_s + 3600, "step": 60})
    socks = []
    for _ in range(2 * WORKERS):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=TIMEOUT)
        c.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Scope-OrgID: {tenant}\r\n"
                  f"\r\n".encode())
        socks.append(c)
    # Let the server pick them up (an answer already here would be fine too).
    select.select(socks, [], [], 1.0)
    for c in socks:
        c.close()
    r = call(s, "GET", "/ready")
    check_eq(r.status, 200, "/ready after the abandoned queries")
    # Had the abandoned queries kept running, the next one would wait for two
    # of them in turn (minutes); stopped, they free the workers in seconds.
    # (A scan notices the cancellation between blocks and in-memory chunks,
    # here of 1000 lines each.)
    q = urllib.parse.urlencode({"query": 'count_over_time({service="checkout"}[1m])',
                                "start": BASE_S, "end": BASE_S + 300, "step": 60})
    r = call(s, "GET", f"{V1}/query_range?{q}", None, tenant_headers(TENANT), timeout=60)
    check_eq(r.status, 200, f"a query after the abandoned ones: {r}")
    check_eq(len(check_matrix(success(r, "after cancel"), "after cancel")), 1,
             "a query after the abandoned ones")
    data = query_range(s, {"query": '{service=~".+"}', "start": start_s, "end": start_s + 3600,
                           "limit": 5}, tenant=tenant)
    check_eq(len(entries_of(data)), 5, "the slow tenant's data still answers")
    check(s.proc.poll() is None, f"the server is running:\n{s.log()}")
    bad = re.findall(r"^.*(?:critical|terminate called|Sanitizer|Segmentation|Assertion).*$",
                     s.log(), re.M | re.I)
    check(not bad, f"the server log shows a crash: {bad}")


def main():
    args = parse_args()
    if websocket is None:
        print("the websocket module (python3-websocket) is missing")
        return SKIP
    tests = [test_ready_and_buildinfo, test_push, test_push_label_mapping,
             test_push_partial_errors, test_tenant_isolation, test_query_range_streams,
             test_query_range_time_parameters, test_query_range_matrix,
             test_query_range_default_step, test_instant_query, test_stats,
             test_stats_bytes_processed, test_labels_and_values, test_labels_default_range,
             test_series, test_index_stats, test_index_stats_post_form, test_errors,
             test_logfmt_flags,
             test_tail_live, test_tail_pipeline_and_tenant, test_tail_refuses_metric_query,
             test_tail_categorized_and_cross_origin_refused,
             test_cancelled_queries_stop]
    with ConfigFile(f"http:\n  worker_threads: {WORKERS}\n") as cfg:
        return run_tests(tests, args.lode, ["--config", cfg])


if __name__ == "__main__":
    sys.exit(main())
