#!/usr/bin/env python3
"""Helpers of bench/storage_bench.sh (Python standard library only).

  storage_bench.py ingest  --url URL --file F --pid PID [--connections 4] [--batch 5000]
                           [--tenant T] [--text]                       -> JSON on stdout
  storage_bench.py queries --lode URL --ch URL --raw F [--reps 7]     -> JSON on stdout
  storage_bench.py report  --facts F --queries F [--loghub F] --out F  -> Markdown file

`ingest` posts a file to Lode in BATCH-line requests over CONNECTIONS concurrent keep-alive
connections, retrying 429/503, and measures the server's CPU (utime + stime from /proc/PID/stat)
and peak RSS (VmHWM). `queries` runs the six questions of bench/README.md on Lode, ClickHouse and
rg (one warm-up, then REPS timed runs, the systems taking turns so that background load hits
them alike) and checks that they agree on the counts. `report` writes the Markdown table.
"""

import argparse
import datetime
import http.client
import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse


def die(msg):
    print(f"storage_bench: {msg}", file=sys.stderr)
    sys.exit(1)


def warn(msg):
    print(f"storage_bench: WARNING: {msg}", file=sys.stderr, flush=True)


def host_port(url):
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        die(f"{url}: only loopback addresses are used")
    return u.hostname, u.port or 80


def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the comm field: state is field 3, utime 14, stime 15 (1-based) -> 11, 12 here.
    return int(fields[11]) + int(fields[12])


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# ingest


def cmd_ingest(a):
    host, port = host_port(a.url)
    headers = {"Content-Type": "text/plain" if a.text else "application/x-ndjson"}
    if a.tenant:
        headers["X-Scope-OrgID"] = a.tenant
    lock = threading.Lock()
    f = open(a.file, "rb")
    totals = {"lines": 0, "accepted": 0, "rejected": 0, "retries": 0, "requests": 0}
    errors = []

    def next_chunk():
        with lock:
            lines = list(itertools.islice(f, a.batch))
        return b"".join(lines), len(lines)

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=600)
        while not errors:
            body, n = next_chunk()
            if n == 0:
                break
            for attempt in itertools.count():
                try:
                    conn.request("POST", "/api/v1/logs", body, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = resp.status
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=600)
                    status, data = None, str(e).encode()
                if status == 200:
                    ans = json.loads(data)
                    with lock:
                        totals["lines"] += n
                        totals["accepted"] += ans.get("accepted", 0)
                        totals["rejected"] += ans.get("rejected", 0)
                        totals["requests"] += 1
                    break
                if status not in (None, 429, 503) or attempt >= 600:
                    errors.append(f"POST /api/v1/logs answered {status}: {data[:300]!r}")
                    return
                with lock:
                    totals["retries"] += 1
                time.sleep(min(0.1 * (attempt + 1), 1.0))
        conn.close()

    c0 = proc_cpu_ticks(a.pid)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t1 = time.perf_counter()
    c1 = proc_cpu_ticks(a.pid)
    if errors:
        die(errors[0])
    ticks = os.sysconf("SC_CLK_TCK")
    out = dict(totals)
    out.update(
        wall_s=t1 - t0,
        cpu_s=(c1 - c0) / ticks,
        rss_hwm_kib=proc_status_kib(a.pid, "VmHWM"),
        rss_kib=proc_status_kib(a.pid, "VmRSS"),
    )
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# queries

# The data: `lode gen --start 2024-11-14T00:00:00Z --interval 8640us`, so 10M lines fill the day.
DATA_START = 1731542400
DATA_INTERVAL_S = 0.00864
DAY_START = "2024-11-14T00:00:00Z"
DAY_END = "2024-11-15T00:00:00Z"
SUBSTRINGS = ["onnection res", "eadline exc", "ool exhau"]
REGEX = r"status=5\d\d latency_ms=\d{4}"
# The logfmt fields the pipeline questions read, for ClickHouse's extract().
LATENCY_RE = r" latency_ms=(\d+)"
STATUS_RE = r" status=(\d+)"


def sql_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Http:
    """One keep-alive connection; get/post return (status, body bytes, seconds)."""

    def __init__(self, url):
        self.host, self.port = host_port(url)
        self.conn = None

    def request(self, method, target, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                t0 = time.perf_counter()
                self.conn.request(method, target, body)
                resp = self.conn.getresponse()
                data = resp.read()
                t1 = time.perf_counter()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, data, t1 - t0
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


class Lode:
    name = "Lode"

    def __init__(self, url):
        self.http = Http(url)

    def run(self, query):
        path, params = query
        target = path + "?" + urllib.parse.urlencode(params)
        status, data, secs = self.http.request("GET", target)
        if status != 200:
            die(f"Lode GET {target} answered {status}: {data[:500]!r}")
        return json.loads(data), secs


class ClickHouse:
    name = "ClickHouse"

    def __init__(self, url):
        self.http = Http(url)

    def run(self, sql):
        status, data, secs = self.http.request("POST", "/?max_threads=2", sql.encode())
        if status != 200:
            die(f"ClickHouse answered {status} to {sql!r}: {data[:500]!r}")
        rows = [line.split("\t") for line in data.decode().splitlines()]
        return rows, secs

    def scalar(self, sql):
        return int(self.run(sql)[0][0][0])


class Rg:
    name = "rg"

    def __init__(self, path):
        self.path = path

    def run(self, args):
        t0 = time.perf_counter()
        p = subprocess.run(["rg", "-c", "--no-mmap", *args, self.path], capture_output=True)
        secs = time.perf_counter() - t0
        if p.returncode not in (0, 1):  # 1: no match
            die(f"rg {args} failed: {p.stderr.decode()[:300]}")
        return int(p.stdout or b"0"), secs


def lode_matched(ans):
    return ans["stats"]["matched"]


def lode_groups(key):
    return lambda ans: {g[key]: g["count"] for g in ans["groups"]}


def lode_buckets(ans):
    out = {}
    for g in ans["groups"]:
        for b in g.get("buckets", []):
            if b["count"]:
                start = datetime.datetime.fromisoformat(b["start"].replace("Z", "+00:00"))
                out[int(start.timestamp())] = out.get(int(start.timestamp()), 0) + b["count"]
    return out


def loki_lines(ans):
    return sum(len(s["values"]) for s in ans["data"]["result"])


def loki_groups(label):
    return lambda ans: {s["metric"].get(label, ""): int(float(s["value"][1]))
                        for s in ans["data"]["result"]}


def loki_total(ans):
    """Sum of every value of a vector or matrix answer."""
    total_ = 0
    for s in ans["data"]["result"]:
        for v in (s["values"] if "values" in s else [s["value"]]):
            total_ += int(float(v[1]))
    return total_


def ch_count(rows):
    return int(rows[0][0])


def ch_groups(rows):
    return {r[0]: int(r[1]) for r in rows}


def ch_buckets(rows):
    return {int(r[0]): int(r[1]) for r in rows}


def total(v):
    return sum(v.values()) if isinstance(v, dict) else v


def cmd_queries(a):
    lode, ch, rg = Lode(a.lode), ClickHouse(a.ch), Rg(a.raw)
    # (c): the hour in the middle of the data: 12:00-13:00 with 10M lines (a full day).
    hour = DATA_START + int(a.lines * DATA_INTERVAL_S / 2) // 3600 * 3600
    utc = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc)  # noqa: E731
    hour_start = utc(hour).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Lode's `end` is inclusive; ClickHouse's side uses ts < hour + 1h (ts holds whole seconds).
    hour_end_incl = utc(hour + 3599).strftime("%Y-%m-%dT%H:%M:%S.999999999Z")
    ch_range = (f"ts >= toDateTime('{utc(hour):%Y-%m-%d %H:%M:%S}') "
                f"AND ts < toDateTime('{utc(hour + 3600):%Y-%m-%d %H:%M:%S}')")
    hour_text = f"{utc(hour):%H:%M}-{utc(hour + 3600):%H:%M}"

    # (e): the first candidate substring that occurs; ClickHouse counts it (untimed).
    substring = None
    for s in SUBSTRINGS:
        n = ch.scalar(f"SELECT count() FROM logs WHERE position(message, {sql_str(s)}) > 0")
        if n > 0:
            substring = s
            break
        warn(f"substring {s!r} occurs in no line; trying the next one")
    if substring is None:
        die(f"none of the substrings {SUBSTRINGS} occurs in the data")
    needle = "zebracorn"
    # LogQL instant queries: the window (t - range, t] at t = the last nanosecond of the
    # day (or hour) covers exactly [start, end) like the SQL ranges.
    day_end_ns = str((DATA_START + 86400) * 10**9 - 1)
    hour_end_ns = str((hour + 3600) * 10**9 - 1)
    query = lambda q, t=day_end_ns: ("/loki/api/v1/query", {"query": q, "time": t})  # noqa: E731
    day_start_ns, day_end_excl_ns = str(DATA_START * 10**9), str((DATA_START + 86400) * 10**9)
    day_range = ("ts >= toDateTime('2024-11-14 00:00:00') AND ts < toDateTime('2024-11-15 00:00:00')")

    # Each question: id, text, target ms, {system: (query, result->comparable)}.
    questions = [
        ("a", f"needle word `{needle}` (~1 line in 10^6)", 5, {
            "Lode": (("/api/v1/logs", {"contains": needle, "limit": 1000}), lode_matched),
            "ClickHouse": (f"SELECT count() FROM logs WHERE position(message, {sql_str(needle)}) > 0",
                           ch_count),
            "ClickHouse LIKE": (f"SELECT count() FROM logs WHERE message LIKE '%{needle}%'", ch_count),
            "rg": ([needle], None),
        }),
        ("b", "count by level, everything", 10, {
            "Lode": (("/api/v1/aggregate", {"by": "level"}), lode_groups("level")),
            "ClickHouse": ("SELECT level, count() FROM logs GROUP BY level", ch_groups),
        }),
        ("c", f"count by service, level=error, {hour_text}", None, {
            "Lode": (("/api/v1/aggregate", {"by": "service", "level": "error", "start": hour_start,
                                             "end": hour_end_incl}), lode_groups("service")),
            "ClickHouse": (f"SELECT service, count() FROM logs WHERE level = 'error' AND {ch_range} "
                           "GROUP BY service", ch_groups),
        }),
        ("d", "per-minute histogram of `checkout` over the day", 10, {
            "Lode": (("/api/v1/aggregate", {"service": "checkout", "step": "1m", "start": DAY_START,
                                             "end": DAY_END}), lode_buckets),
            "ClickHouse": ("SELECT toUInt32(toStartOfMinute(ts)) AS m, count() FROM logs "
                           f"WHERE service = 'checkout' AND {day_range} GROUP BY m ORDER BY m",
                           ch_buckets),
        }),
        ("e", f"unindexed substring `{substring}`", 250, {
            "Lode": (("/api/v1/logs", {"contains": substring, "limit": 1000}), lode_matched),
            "ClickHouse": (f"SELECT count() FROM logs WHERE position(message, {sql_str(substring)}) > 0",
                           ch_count),
            "rg": ([substring], None),
        }),
        ("f", f"regex `{REGEX}`", 250, {
            "Lode": (("/api/v1/logs", {"regex": REGEX, "limit": 1000}), lode_matched),
            "ClickHouse": (f"SELECT count() FROM logs WHERE match(message, {sql_str(REGEX)})", ch_count),
            "rg": (["-e", REGEX], None),
        }),
    ]
    # The same questions in LogQL over the Loki API, plus three that need a pipeline.
    lq = lambda s: s.replace("\\", "\\\\")  # noqa: E731  (a LogQL string literal)
    questions += [
        ("La", f"LogQL `{{}} |= \"{needle}\"` (lines, limit 1000)", 5, {
            "Lode": (("/loki/api/v1/query_range", {"query": f'{{}} |= "{needle}"', "limit": 1000,
                                                   "start": day_start_ns, "end": day_end_excl_ns}),
                     loki_lines),
            "ClickHouse": (f"SELECT count() FROM logs WHERE position(message, {sql_str(needle)}) > 0",
                           ch_count),
        }),
        ("Lb", "LogQL `sum by (level) (count_over_time({}[1d]))`", 10, {
            "Lode": (query("sum by (level) (count_over_time({}[1d]))"), loki_groups("level")),
            "ClickHouse": ("SELECT level, count() FROM logs GROUP BY level", ch_groups),
        }),
        ("Lc", f"LogQL `sum by (service) (count_over_time({{level=\"error\"}}[1h]))`, {hour_text}",
         None, {
            "Lode": (query('sum by (service) (count_over_time({level="error"}[1h]))', hour_end_ns),
                     loki_groups("service")),
            "ClickHouse": (f"SELECT service, count() FROM logs WHERE level = 'error' AND {ch_range} "
                           "GROUP BY service", ch_groups),
        }),
        ("Ld", "LogQL `sum(count_over_time({service=\"checkout\"}[1m]))`, step 1m over the day "
         "(total compared: windows are (t-1m, t], SQL minutes [m, m+1m))", 10, {
            "Lode": (("/loki/api/v1/query_range", {
                "query": 'sum(count_over_time({service="checkout"}[1m]))', "step": "60",
                "start": str(DATA_START * 10**9 + 60 * 10**9 - 1), "end": day_end_ns}), loki_total),
            "ClickHouse": ("SELECT toUInt32(toStartOfMinute(ts)) AS m, count() FROM logs "
                           f"WHERE service = 'checkout' AND {day_range} GROUP BY m ORDER BY m",
                           lambda rows: sum(int(r[1]) for r in rows)),
        }),
        ("Le", f"LogQL `sum(count_over_time({{}} |= \"{substring}\" [1d]))`", 250, {
            "Lode": (query(f'sum(count_over_time({{}} |= "{substring}" [1d]))'), loki_total),
            "ClickHouse": (f"SELECT count() FROM logs WHERE position(message, {sql_str(substring)}) > 0",
                           ch_count),
        }),
        ("Lf", f"LogQL `sum(count_over_time({{}} |~ \"{REGEX}\" [1d]))`", 250, {
            "Lode": (query(f'sum(count_over_time({{}} |~ "{lq(REGEX)}" [1d]))'), loki_total),
            "ClickHouse": (f"SELECT count() FROM logs WHERE match(message, {sql_str(REGEX)})", ch_count),
        }),
        ("Lg", "LogQL `topk(3, sum by (service) (count_over_time({level=\"error\"} "
         "|~ \"timeout|refused\" [1d])))`", None, {
            "Lode": (query('topk(3, sum by (service) (count_over_time({level="error"} '
                           '|~ "timeout|refused" [1d])))'), loki_groups("service")),
            "ClickHouse": ("SELECT service, count() AS c FROM logs WHERE level = 'error' AND "
                           "match(message, 'timeout|refused') GROUP BY service ORDER BY c DESC LIMIT 3",
                           ch_groups),
        }),
        ("Lh", "LogQL `sum by (service) (count_over_time({} | logfmt | __error__=\"\" "
         "| latency_ms > 5000 [1d]))`", None, {
            "Lode": (query('sum by (service) (count_over_time({} | logfmt | __error__="" '
                           '| latency_ms > 5000 [1d]))'),
                     loki_groups("service")),
            "ClickHouse": ("SELECT service, count() FROM logs WHERE "
                           f"toUInt64OrZero(extract(message, {sql_str(LATENCY_RE)})) > 5000 "
                           "GROUP BY service", ch_groups),
        }),
        ("Li", "LogQL `sum by (service) (count_over_time({} | regexp \" latency_ms=(?P<latency>\\\\d+)\" "
         "| latency > 5000 [1d]))`", None, {
            "Lode": (query('sum by (service) (count_over_time({} | regexp " latency_ms=(?P<latency>\\\\d+)" '
                           '| latency > 5000 [1d]))'),
                     loki_groups("service")),
            "ClickHouse": ("SELECT service, count() FROM logs WHERE "
                           f"toUInt64OrZero(extract(message, {sql_str(LATENCY_RE)})) > 5000 "
                           "GROUP BY service", ch_groups),
        }),
        ("Lj", "LogQL `sum by (service) (count_over_time({service=~\"checkout|payments\"} "
         "|= \"status=5\" | regexp \" status=(?P<code>\\\\d+)\" | code >= 500 [1h]))`, " + hour_text, None, {
            "Lode": (query('sum by (service) (count_over_time({service=~"checkout|payments"} '
                           '|= "status=5" | regexp " status=(?P<code>\\\\d+)" | code >= 500 [1h]))',
                           hour_end_ns),
                     loki_groups("service")),
            "ClickHouse": ("SELECT service, count() FROM logs WHERE service IN ('checkout', 'payments') "
                           f"AND {ch_range} AND position(message, 'status=5') > 0 AND "
                           f"toUInt32OrZero(extract(message, {sql_str(STATUS_RE)})) >= 500 "
                           "GROUP BY service", ch_groups),
        }),
    ]
    runners = {"Lode": lode, "ClickHouse": ch, "ClickHouse LIKE": ch, "rg": rg}

    results = []
    for qid, text, target, systems in questions:
        times = {name: [] for name in systems}
        values = {}
        for rep in range(a.reps + 1):  # rep 0 is the warm-up
            for name, (query, convert) in systems.items():
                ans, secs = runners[name].run(query)
                if rep == 0:
                    values[name] = convert(ans) if convert else ans
                else:
                    times[name].append(secs * 1000)
        # Agreement of the counts.
        ref = values["ClickHouse"]
        agree = True
        for name, v in values.items():
            if name == "ClickHouse" or v == ref or qid in BY_DESIGN:
                continue
            agree = False
            extra = ""
            if name == "Lode" and isinstance(v, int) and systems["Lode"][0][0] == "/api/v1/logs":
                path, params = systems["Lode"][0]
                agg, _ = lode.run(("/api/v1/aggregate",
                                   {k: p for k, p in params.items() if k != "limit"}))
                extra = f" (Lode /api/v1/aggregate total: {agg['total']})"
            if isinstance(v, dict):
                diff = {k: (v.get(k), ref.get(k)) for k in sorted(set(v) | set(ref), key=str)
                        if v.get(k) != ref.get(k)}
                shown = dict(itertools.islice(diff.items(), 8))
                extra += f"; differing keys ({len(diff)}), {name} vs ClickHouse: {shown}"
            warn(f"({qid}) {name} and ClickHouse disagree: {total(v)} vs {total(ref)} "
                 f"lines{extra}")
        print(f"storage_bench: ({qid}) {text}: " + ", ".join(
            f"{n} p50 {pct(t, 50):.1f} ms" for n, t in times.items()) +
            f"; {total(ref)} lines" + ("" if agree else " (DISAGREEMENT, see above)"),
            file=sys.stderr, flush=True)
        results.append({"id": qid, "text": text, "target_ms": target, "agree": agree,
                        "times_ms": times,
                        "counts": {n: total(v) for n, v in values.items()},
                        "groups": {n: (len(v) if isinstance(v, dict) else None)
                                   for n, v in values.items()}})
    print(json.dumps({"reps": a.reps, "questions": results}))


def pct(values, p):
    """Nearest-rank percentile (p95 of 7 runs is the slowest one)."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


# ---------------------------------------------------------------------------------------------
# report


def read_facts(path):
    facts = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                facts[k] = v
    return facts


def mb(n):
    return f"{n / 1e6:,.1f} MB"


GROUP_WORDS = {"b": "levels", "c": "services", "d": "minutes", "Lb": "levels", "Lc": "services",
               "Lg": "services", "Lh": "services", "Li": "services", "Lj": "services"}
# Questions whose answers differ from the SQL's by design (reported, not warned about).
BY_DESIGN = {
    "Lh": "Lode, like Loki, drops lines go-logfmt rejects (an unquoted `=` inside a value, as in "
          "`path=/search?q=desk&page=7`) with `__error__=\"\"`, and reads `latency_ms` also from "
          "records that carried it as a JSON field (an attribute); the SQL reads the message text only. "
          "(Li asks the same with `| regexp` and must agree.)",
}


def cmd_report(a):
    F = read_facts(a.facts)
    Q = json.load(open(a.queries))
    num = lambda k: float(F[k])  # noqa: E731
    lines = int(F["lines"])
    raw, z3, z19 = num("raw_bytes"), num("zstd3_bytes"), num("zstd19_bytes")
    lode_disk, ch_disk = num("lode_disk_bytes"), num("ch_bytes_on_disk")
    ing = json.loads(F["lode_ingest"])
    out = []
    w = out.append
    w(f"# Lode storage and query benchmark, {F['date']}")
    w("")
    w(f"{lines:,} generated lines (`lode gen --seed 1 --start 2024-11-14T00:00:00Z "
      f"--interval 8640us`); {F['nproc']} cores ({F['cpu']}), {F['mem']} memory, "
      f"kernel {F['kernel']}; Lode `{F['lode_version']}`, ClickHouse {F['ch_version']}, "
      f"{F['rg_version']}, {F['zstd_version']}. Machine shared with other work: compare the "
      "ratios, which come from the same run.")
    w("")
    reps = Q["reps"]
    w(f"Query times: wall time of the whole request from a Python client on the same machine "
      f"(keep-alive HTTP for Lode and ClickHouse, a process per run for rg), one warm-up then "
      f"{reps} runs, systems taking turns; p95 of {reps} runs is the slowest run. ClickHouse with "
      "`max_threads=2`.")
    w("")
    w("| question | Lode p50 / p95 ms | ClickHouse p50 / p95 ms | rg p50 / p95 ms | "
      "Lode / ClickHouse (p50) | Lode target | lines (Lode / ClickHouse / rg) |")
    w("|---|---|---|---|---|---|---|")
    for q in Q["questions"]:
        t = q["times_ms"]
        pp = lambda n: f"{pct(t[n], 50):,.1f} / {pct(t[n], 95):,.1f}" if n in t else "—"  # noqa
        ch = pp("ClickHouse")
        if "ClickHouse LIKE" in t:
            ch += f" (LIKE: {pp('ClickHouse LIKE')})"
        ratio = pct(t["Lode"], 50) / max(pct(t["ClickHouse"], 50), 1e-9)
        target = f"≤ {q['target_ms']} ms" if q["target_ms"] else "—"
        c = q["counts"]
        counts = f"{c['Lode']:,} / {c['ClickHouse']:,}" + (f" / {c['rg']:,}" if "rg" in c else "")
        g = q["groups"].get("ClickHouse")
        if g is not None:
            counts += f" ({g} {GROUP_WORDS.get(q['id'], 'groups')})"
        if not q["agree"]:
            counts += " **disagree**"
        if q["id"] in BY_DESIGN:
            counts += " (differ by design, see below)"
        w(f"| ({q['id']}) {q['text']} | {pp('Lode')} | {ch} | {pp('rg')} | {ratio:.2f}× | "
          f"{target} | {counts} |")
    w("")
    for qid, why in BY_DESIGN.items():
        w(f"({qid}) {why}")
        w("")
    w("| figure | Lode | ClickHouse | zstd -3 | zstd -19 --long=27 -T2 |")
    w("|---|---|---|---|---|")
    ch_load = num("ch_load_s")
    w(f"| ingest / load wall time | {ing['wall_s']:.1f} s ({lines / ing['wall_s']:,.0f} lines/s) | "
      f"{ch_load:.1f} s ({lines / ch_load:,.0f} lines/s) + OPTIMIZE FINAL {num('ch_optimize_s'):.1f} s"
      f" | {num('zstd3_s'):.1f} s ({raw / num('zstd3_s') / 1e6:,.0f} MB/s) | {num('zstd19_s'):.1f} s "
      f"({raw / num('zstd19_s') / 1e6:,.1f} MB/s) |")
    ch_cpu, cl_cpu = num("ch_cpu_s"), num("ch_client_cpu_s")
    w(f"| lines per server CPU-second | {lines / ing['cpu_s']:,.0f} ({ing['cpu_s']:.1f} CPU-s) | "
      f"{lines / ch_cpu:,.0f} ({ch_cpu:.1f} CPU-s, load + merge); with clickhouse-client's "
      f"{cl_cpu:.1f} CPU-s (it parses the JSON): {lines / (ch_cpu + cl_cpu):,.0f} | — | — |")
    w(f"| peak RSS of the server | {ing['rss_hwm_kib'] / 1024:,.0f} MiB after ingest, "
      f"{num('lode_rss_end_kib') / 1024:,.0f} MiB after the queries | "
      f"{num('ch_rss_hwm_kib') / 1024:,.0f} MiB | — | — |")
    w(f"| on disk | {mb(lode_disk)} ({lode_disk / lines:.1f} B/line) | {mb(ch_disk)} "
      f"({ch_disk / lines:.1f} B/line; active parts) | {mb(z3)} ({z3 / lines:.1f} B/line) | "
      f"{mb(z19)} ({z19 / lines:.1f} B/line) |")
    w(f"| size vs raw NDJSON ({mb(raw)}, {raw / lines:.0f} B/line) | {lode_disk / raw:.3f} "
      f"({raw / lode_disk:.1f}× smaller) | {ch_disk / raw:.3f} ({raw / ch_disk:.1f}×) | "
      f"{z3 / raw:.3f} ({raw / z3:.1f}×) | {z19 / raw:.3f} ({raw / z19:.1f}×) |")
    w(f"| Lode's size relative to it | — | {lode_disk / ch_disk:.2f}× | {lode_disk / z3:.2f}× | "
      f"{lode_disk / z19:.2f}× (target ≤ 1) |")
    w("")
    w(f"Lode ingest: {ing['lines']:,} lines posted as NDJSON, {ing['requests']:,} requests of "
      f"{F['batch']} lines over {F['connections']} connections, {ing['accepted']:,} accepted, "
      f"{ing['rejected']:,} rejected, {ing['retries']:,} retries (429). ClickHouse loads the "
      f"normalized NDJSON ({mb(num('norm_bytes'))}) through a Null table and a materialized view "
      "with `clickhouse-client`, zstd parts, ORDER BY (service, ts). Lode's figure is `du -sb` of "
      "its data directory after `POST /api/v1/admin/flush` and background work settled "
      f"({mb(num('lode_disk_ingested_bytes'))} right after the ingest; flush and settling took "
      f"{num('lode_flush_s'):.1f} s); ClickHouse's is `bytes_on_disk` of the active parts.")
    w("")
    w(f"Phases (wall time): generate {num('gen_s'):.0f} s, zstd {num('zstd3_s') + num('zstd19_s'):.0f} s, "
      f"Lode ingest {ing['wall_s']:.0f} s, ClickHouse load + merge {ch_load + num('ch_optimize_s'):.0f} s, "
      f"queries {num('queries_s'):.0f} s; whole script {F.get('total_s', '?')} s.")
    if a.loghub and os.path.exists(a.loghub):
        w("")
        w("## LogHub samples (2,000 lines each, posted as `text/plain`, one fresh data dir each)")
        w("")
        rows = [r.split("\t") for r in open(a.loghub).read().splitlines()]
        if rows and rows[0][0] == "SKIPPED":
            w(rows[0][1])
        else:
            w("| system | lines | raw B/line | Lode on disk B/line | zstd -19 B/line | Lode / zstd -19 |")
            w("|---|---|---|---|---|---|")
            sums = [0, 0, 0, 0]
            for system, n, rawb, disk, z in rows:
                n, rawb, disk, z = int(n), int(rawb), int(disk), int(z)
                sums = [sums[0] + n, sums[1] + rawb, sums[2] + disk, sums[3] + z]
                w(f"| {system} | {n:,} | {rawb / n:.1f} | {disk / n:.1f} | {z / n:.1f} | "
                  f"{disk / z:.2f}× |")
            n, rawb, disk, z = sums
            if n:
                w(f"| all | {n:,} | {rawb / n:.1f} | {disk / n:.1f} | {z / n:.1f} | {disk / z:.2f}× |")
            w("")
            w(f"Lode on disk is `du -sb` of the data directory after the ingest and a flush, minus "
              f"that of an empty one ({F.get('lode_empty_bytes', '?')} bytes).")
    text = "\n".join(out) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("ingest")
    i.add_argument("--url", required=True)
    i.add_argument("--file", required=True)
    i.add_argument("--pid", type=int, required=True)
    i.add_argument("--connections", type=int, default=4)
    i.add_argument("--batch", type=int, default=5000)
    i.add_argument("--tenant")
    i.add_argument("--text", action="store_true", help="Content-Type: text/plain")
    q = sub.add_parser("queries")
    q.add_argument("--lode", required=True)
    q.add_argument("--ch", required=True)
    q.add_argument("--raw", required=True)
    q.add_argument("--reps", type=int, default=7)
    q.add_argument("--lines", type=int, required=True, help="lines generated (for the hour of (c))")
    r = sub.add_parser("report")
    r.add_argument("--facts", required=True)
    r.add_argument("--queries", required=True)
    r.add_argument("--loghub")
    r.add_argument("--out", required=True)
    a = p.parse_args()
    {"ingest": cmd_ingest, "queries": cmd_queries, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
