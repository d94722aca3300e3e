"""End to end: message patterns mined at ingest (issue 5, docs/PATTERNS.md).

Starts a real `lode serve` (loopback, temp dir, warm-up 1h) and posts NDJSON
lines of five templates across two services, and of a third service whose
lines start two templates that a later line joins into one, with fixed
timestamps spread over two hours starting three hours ago (one template
appears only after the warm-up). Then checks:

- GET /api/v1/patterns: template texts, exact counts, order, samples, volume,
  first/last seen, `new` and `new=true`, `limit`, a selector and a line filter
  in `query`, a sub-range, another tenant;
- GET /api/v1/logs: every record carries pattern_id and pattern, one id per
  template, ids unique across the tenant's services;
- LogQL: `| pattern_id = "<id>"` in a log query_range returns exactly that
  template's lines; `sum by (pattern_id) (count_over_time(...))` equals the
  API's counts;
- GET /loki/api/v1/patterns: Loki's shape, `<_>` placeholders, samples;
- ids across restarts: flush, more lines left in the WAL, SIGKILL, restart on
  the same data directory (WAL replay), more lines plus a new template, then a
  clean stop and start; every id stays, the new template gets a fresh one,
  total counts are right;
- every line fits the pattern text it is returned with (last, so that a
  failure here does not hide the rest);
- bad input: invalid query, bad step, `new=maybe` answer 400 naming the problem.

Every expected value is computed here from the posted data. Standard library only.
"""
import collections
import functools
import datetime
import json
import random
import re
import subprocess
import sys
import time
import traceback
import urllib.parse

from lodetest import CheckFailed, ConfigFile, Server, check, check_eq, parse_args

SEC = 10**9
MIN = 60 * SEC
NOW_S = int(time.time())
BASE_S = NOW_S // 60 * 60 - 3 * 3600  # first line: three hours ago, on a minute
BASE = BASE_S * SEC
TENANT = "patterns-e2e"
HEADERS = {"X-Scope-OrgID": TENANT}
NDJSON = {"Content-Type": "application/x-ndjson", "X-Scope-OrgID": TENANT}
CONFIG = ("patterns:\n  enabled: true\n  warmup: 1h\n"
          "storage:\n  flush_age: 30m\n"  # only the admin flush writes segments
          "http:\n  worker_threads: 2\n")

# The range every query below covers: a minute around the two hours of data.
Q_START = BASE - MIN
Q_END = BASE + 131 * MIN  # past the lines posted around the restarts too
STEP_S = 600  # 10m volume buckets

rng = random.Random(5)


def ip():
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def proxy_line(counter=[0]):
    """Proxifier's close line, with and without notes beside its values: the
    first two lines start two templates, the third fits both and joins them
    (docs/PATTERNS.md, "Across lengths"), so the second line's id must read
    as the first's from then on."""
    k = counter[0]
    counter[0] += 1
    sent, recv = rng.randrange(100, 999), rng.randrange(100, 999)
    shape = k if k < 3 else rng.randrange(3)
    if shape == 0:
        return (f"h{k}.example.com:443 close, {sent} bytes ({sent / 1000:.2f} KB) sent, "
                f"{recv} bytes ({recv / 1000:.1f} KB) received, lifetime <1 sec")
    if shape == 1:
        return f"h{k}.example.com:443 close, {sent} bytes sent, {recv} bytes received, lifetime 00:0{k % 10}"
    return (f"h{k}.example.com:443 close, {sent} bytes ({sent / 1000:.2f} KB) sent, "
            f"{recv} bytes received, lifetime 00:{k % 60:02d}")


# Template name -> (service, expected template text or None, line maker).
TEMPLATES = {
    "login": ("api", "user <*> logged in from <*>",
              lambda: f"user {rng.randrange(1000, 99999)} logged in from {ip()}"),
    "get": ("api", "GET <*> took <*>",
            lambda: f"GET /api/v1/items/{rng.randrange(1, 5000)}/detail "
                    f"took {rng.randrange(1, 999)}ms"),
    "job": ("worker", "job <*> finished with status=<*> after <*>",
            lambda: f"job 0x{rng.randrange(1 << 32):08x} finished with "
                    f"status={rng.choice([0, 1, 2, 137])} after {rng.randrange(1, 90)}.{rng.randrange(10)}s"),
    "upload": ("worker", "retrying upload of <*> to <*> attempt <*>",
               lambda: f"retrying upload of /data/part-{rng.randrange(10000):04d}.bin to "
                       f"{ip()}:{rng.choice([9000, 9001, 443])} attempt {rng.randrange(1, 6)}"),
    # Two templates joined into one (see proxy_line); the text is the miner's.
    "proxy": ("proxy", None, proxy_line),
    # Appears only after the api service's warm-up: the one "new" template.
    "evict": ("api", "cache eviction freed <*> bytes in shard <*>",
              lambda: f"cache eviction freed {rng.randrange(1, 10**9)} bytes in shard "
                      f"s{rng.randrange(1, 64)}"),
    # Only after the restart: must get a fresh id.
    "disk": ("worker", "disk usage at <*> on volume <*> of node <*>",
             lambda: f"disk usage at {rng.randrange(50, 100)}% on volume "
                     f"vol-{rng.randrange(100)} of node {ip()}"),
}


class Line:
    def __init__(self, ts, tmpl):
        self.ts = ts
        self.tmpl = tmpl
        self.service = TEMPLATES[tmpl][0]
        self.message = TEMPLATES[tmpl][2]()

    def json(self):
        return json.dumps({"timestamp": rfc3339_ns(self.ts), "service": self.service,
                           "level": "info", "message": self.message})


def rfc3339_ns(ns):
    secs, frac = divmod(ns, SEC)
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def make_lines(counts, first_min, last_min, salt):
    """counts: template -> number of lines, spread evenly over
    [first_min, last_min) minutes after BASE; each template's first line
    comes first. Timestamps are unique (salt, in ns, keeps batches apart)."""
    out = []
    for ti, (tmpl, n) in enumerate(counts.items()):
        span = (last_min - first_min) * MIN
        for k in range(n):
            ts = BASE + first_min * MIN + span * k // n + rng.randrange(0, 20) * SEC + ti * 1000 + salt
            out.append(Line(ts, tmpl))
    out.sort(key=lambda l: l.ts)
    check_eq(len({l.ts for l in out}), len(out), "test data: unique timestamps")
    return out


# Before the restarts: five templates over the two hours ("evict" only in the
# last 30 minutes, added in scenario()).
INITIAL_COUNTS = {"login": 61, "get": 47, "job": 33, "upload": 22, "proxy": 14}
# Left in the WAL (posted after the flush, not flushed) before the SIGKILL.
WAL_COUNTS = {"login": 5, "job": 4, "proxy": 2}
# After the restart: old templates and a new one.
AFTER_COUNTS = {"login": 3, "get": 2, "upload": 2, "proxy": 3, "disk": 6}


# ---------------------------------------------------------------------------
# Helpers


def post_lines(s, lines):
    body = "\n".join(l.json() for l in lines) + "\n"
    r = s.post("/api/v1/logs", body, NDJSON)
    check_eq(r.status, 200, f"ingest status: {r}")
    check_eq(r.json(), {"accepted": len(lines), "rejected": 0}, "ingest answer")


def patterns(s, path="/api/v1/patterns", expect=200, tenant=TENANT, **params):
    params.setdefault("start", str(Q_START))
    params.setdefault("end", str(Q_END))
    r = s.get(path + "?" + urllib.parse.urlencode(params), {"X-Scope-OrgID": tenant})
    check_eq(r.status, expect, f"status of {path} {params}: {r}")
    if expect != 200:
        return r
    body = r.json()
    check_eq(body.get("status"), "success", f"{path} {params}: status field")
    return body["data"]


def all_records(s):
    got = s.logs(HEADERS, start=str(Q_START), end=str(Q_END), direction="forward", limit=10000)
    return got["records"]


def loki(s, path, **params):
    r = s.get(path + "?" + urllib.parse.urlencode(params), HEADERS)
    check_eq(r.status, 200, f"status of {path} {params}: {r}")
    body = r.json()
    check_eq(body.get("status"), "success", f"{path}: status field")
    return body["data"]


def expected_by_template(lines, start=Q_START, end=Q_END):
    by = collections.defaultdict(list)
    for l in lines:
        if start <= l.ts < end:
            by[l.tmpl].append(l)
    return by


def ids_from_records(records, lines):
    """template -> set of pattern ids its lines carry; checks every record
    has an id and a text, and that the records are exactly `lines`."""
    by_ts = {l.ts: l for l in lines}
    check_eq(sorted(int(r["timestamp_ns"]) for r in records), sorted(by_ts),
             "timestamps of the records read back")
    ids = collections.defaultdict(set)
    texts = {}
    for r in records:
        l = by_ts[int(r["timestamp_ns"])]
        check_eq(r["message"], l.message, "message read back")
        check("pattern_id" in r and "pattern" in r, f"record carries pattern_id and pattern: {r}")
        check(re.fullmatch(r"[1-9][0-9]*", r["pattern_id"]) is not None,
              f"pattern_id is a positive integer string: {r['pattern_id']!r}")
        ids[l.tmpl].add(r["pattern_id"])
        texts.setdefault(r["pattern_id"], set()).add(r["pattern"])
    for pid, t in texts.items():
        check_eq(len(t), 1, f"one text per pattern id {pid}")
    return ids, {pid: next(iter(t)) for pid, t in texts.items()}


def template_matches(text, line):
    """Whether `line` fits `text`, token by token: a "<*>" token stands for
    one token, or in a joined template any number of tokens including none
    (docs/PATTERNS.md); `key=<*>` stands for a token starting with `key=`."""
    pat, toks = text.split(), line.split()

    @functools.lru_cache(maxsize=None)
    def fit(i, j):
        if i == len(pat):
            return j == len(toks)
        p = pat[i]
        if p == "<*>":
            return any(fit(i + 1, k) for k in range(j, len(toks) + 1))
        if j == len(toks):
            return False
        if p.endswith("<*>"):
            ok = toks[j].startswith(p[:-3]) and len(toks[j]) > len(p) - 3
        else:
            ok = toks[j] == p
        return ok and fit(i + 1, j + 1)

    return fit(0, 0)


# ---------------------------------------------------------------------------
# Checks


def check_patterns_api(s, lines, ids):
    """(b) /api/v1/patterns over the whole range."""
    exp = expected_by_template(lines)
    data = patterns(s, step=f"{STEP_S // 60}m")
    check_eq(data["start_ns"], str(Q_START), "start_ns")
    check_eq(data["end_ns"], str(Q_END), "end_ns")
    check_eq(data["step_ns"], str(STEP_S * SEC), "step_ns")
    check_eq(data["lines"], len(lines), "lines")
    check_eq(data["unpatterned"], 0, "unpatterned")
    check_eq(data["total_patterns"], len(exp), "total_patterns")
    pats = data["patterns"]
    check_eq(len(pats), len(exp), f"number of patterns: {[p['pattern'] for p in pats]}")
    counts = [p["count"] for p in pats]
    check_eq(counts, sorted(counts, reverse=True), "biggest count first")
    buckets = -(-(Q_END - Q_START) // (STEP_S * SEC))
    by_id = {p["id"]: p for p in pats}
    for tmpl, tl in exp.items():
        (pid,) = ids[tmpl]
        check(pid in by_id, f"template {tmpl} (id {pid}) listed: {list(by_id)}")
        p = by_id[pid]
        service, text, _ = TEMPLATES[tmpl]
        what = f"pattern {tmpl} ({pid})"
        check_eq(p["service"], service, f"{what}: service")
        if text is not None:
            check_eq(p["pattern"], text, f"{what}: text")
            for l in tl:
                check(template_matches(p["pattern"], l.message),
                      f"{what}: line {l.message!r} fits {p['pattern']!r}")
        # (The joined template's lines are checked against its text last,
        # check_lines_fit_their_patterns, so that everything else runs first.)
        check_eq(p["count"], len(tl), f"{what}: count")
        first, last = min(l.ts for l in tl), max(l.ts for l in tl)
        newest = max(tl, key=lambda l: l.ts)
        check_eq(p["first_seen_ns"], str(first), f"{what}: first_seen_ns")
        check_eq(p["last_seen_ns"], str(last), f"{what}: last_seen_ns")
        check_eq(p["first_seen"], rfc3339_trim(first), f"{what}: first_seen")
        check_eq(p["last_seen"], rfc3339_trim(last), f"{what}: last_seen")
        check_eq(p["first_in_range_ns"], str(first), f"{what}: first_in_range_ns")
        check_eq(p["last_in_range_ns"], str(last), f"{what}: last_in_range_ns")
        check_eq(p["first_in_range"], rfc3339_trim(first), f"{what}: first_in_range")
        check_eq(p["last_in_range"], rfc3339_trim(last), f"{what}: last_in_range")
        check(p["sample"] in {l.message for l in tl}, f"{what}: sample is one of its lines")
        check_eq(p["sample"], newest.message, f"{what}: sample is the newest line")
        check_eq(p["sample_ns"], str(newest.ts), f"{what}: sample_ns")
        check_eq(len(p["volume"]), buckets, f"{what}: volume length")
        check_eq(sum(p["volume"]), p["count"], f"{what}: volume sums to count")
        vol = [0] * buckets
        for l in tl:
            vol[(l.ts - Q_START) // (STEP_S * SEC)] += 1
        check_eq(p["volume"], vol, f"{what}: volume per step")
        check_eq(p["new"], tmpl == "evict", f"{what}: new")
    check(isinstance(data.get("stats"), dict), f"stats object: {data.get('stats')}")
    return data


def rfc3339_trim(ns):
    secs, frac = divmod(ns, SEC)
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        t += "." + f"{frac:09d}".rstrip("0")
    return t + "Z"


def check_patterns_params(s, lines, ids):
    """(b) new=, limit, query selector and line filter, sub-range, tenants."""
    exp = expected_by_template(lines)
    order = sorted(exp, key=lambda t: (-len(exp[t]), int(next(iter(ids[t])))))

    data = patterns(s, new="true")
    check_eq([p["id"] for p in data["patterns"]], list(ids["evict"]), "new=true: only the late one")
    check_eq(data["patterns"][0]["new"], True, "new=true: flag")
    check_eq(data["total_patterns"], 1, "new=true: total_patterns")
    data = patterns(s, new="false")
    check_eq(len(data["patterns"]), len(exp), "new=false: every pattern")

    data = patterns(s, limit="2")
    check_eq([p["id"] for p in data["patterns"]], [next(iter(ids[t])) for t in order[:2]],
             "limit=2: the two biggest")
    check_eq(data["total_patterns"], len(exp), "limit=2: total_patterns counts them all")

    # A selector: only the worker's templates, full counts.
    data = patterns(s, query='{service="worker"}')
    got = {p["id"]: p["count"] for p in data["patterns"]}
    want = {next(iter(ids[t])): len(tl) for t, tl in exp.items() if TEMPLATES[t][0] == "worker"}
    check_eq(got, want, '{service="worker"}: patterns and counts')
    check_eq(data["lines"], sum(want.values()), '{service="worker"}: lines')

    # A line filter: only the login lines from 10.1xx.*, and the upload lines with it.
    rx = r"from 10\.1[0-9][0-9]\.|to 10\.1[0-9][0-9]\."
    data = patterns(s, query='{} |~ `' + rx + '`')
    got = {p["id"]: p["count"] for p in data["patterns"]}
    want = collections.Counter()
    for t, tl in exp.items():
        for l in tl:
            if re.search(rx, l.message):
                want[next(iter(ids[t]))] += 1
    check(len(want) == 2 and all(0 < n < len(exp[t]) for t in ("login", "upload")
                                 for n in [want[next(iter(ids[t]))]]),
          f"test data: the filter keeps part of two templates: {want}")
    check_eq(got, dict(want), f"line filter {rx}: counts")
    for p in data["patterns"]:
        check(re.search(rx, p["sample"]) is not None, f"line filter: sample matches: {p['sample']}")

    # Both at once, and a pattern_id filter inside `query`.
    pid = next(iter(ids["login"]))
    data = patterns(s, query='{service="api"} |= "logged in" | pattern_id = "' + pid + '"')
    check_eq([(p["id"], p["count"]) for p in data["patterns"]], [(pid, len(exp["login"]))],
             "selector, line filter and pattern_id filter")

    # A sub-range (the second hour): counts and in-range times of that range,
    # first/last seen still the template's.
    sub_start, sub_end = BASE + 60 * MIN, BASE + 120 * MIN
    sub = expected_by_template(lines, sub_start, sub_end)
    data = patterns(s, start=str(sub_start), end=str(sub_end), step="600")
    check_eq(data["step_ns"], str(600 * SEC), "step in seconds")
    got = {p["id"]: p for p in data["patterns"]}
    check_eq({k: v["count"] for k, v in got.items()},
             {next(iter(ids[t])): len(tl) for t, tl in sub.items()}, "sub-range counts")
    for t, tl in sub.items():
        p = got[next(iter(ids[t]))]
        check_eq(p["first_in_range_ns"], str(min(l.ts for l in tl)), f"{t}: first_in_range_ns")
        check_eq(p["last_in_range_ns"], str(max(l.ts for l in tl)), f"{t}: last_in_range_ns")
        check_eq(p["first_seen_ns"], str(min(l.ts for l in exp[t])), f"{t}: first_seen_ns")
        check_eq(len(p["volume"]), 6, f"{t}: 6 buckets of 10m in the hour")
        check_eq(sum(p["volume"]), p["count"], f"{t}: sub-range volume sums to count")

    # Times in RFC 3339 and unix seconds mean the same range.
    a = patterns(s, start=rfc3339_trim(Q_START), end=rfc3339_trim(Q_END), step="10m")
    b = patterns(s, start=str(Q_START // SEC), end=str(Q_END // SEC), step="10m")
    check_eq([(p["id"], p["count"], p["volume"]) for p in a["patterns"]],
             [(p["id"], p["count"], p["volume"]) for p in b["patterns"]],
             "RFC 3339 and unix seconds")
    check_eq(sum(p["count"] for p in a["patterns"]), len(lines), "RFC 3339 range: every line")

    # Default range: the last hour (the posted lines are older than that).
    data = patterns(s, start="", end="")
    check(abs(int(data["end_ns"]) - time.time() * SEC) < 120 * SEC, "default end: now")
    check_eq(int(data["end_ns"]) - int(data["start_ns"]), 3600 * SEC, "default range: one hour")
    in_hour = expected_by_template(lines, int(data["start_ns"]), int(data["end_ns"]))
    check_eq({p["id"]: p["count"] for p in data["patterns"]},
             {next(iter(ids[t])): len(tl) for t, tl in in_hour.items()},
             "default range (last hour): counts")

    # Another tenant sees none of it.
    data = patterns(s, tenant="someone-else")
    check_eq((data["lines"], data["patterns"]), (0, []), "another tenant")


def check_logql(s, lines, ids):
    """(d) `| pattern_id = ...` in log and metric queries."""
    exp = expected_by_template(lines)
    for tmpl in ("login", "job", "evict", "proxy"):  # proxy: a joined template's members
        pid = next(iter(ids[tmpl]))
        data = loki(s, "/loki/api/v1/query_range", query='{} | pattern_id = "' + pid + '"',
                    start=str(Q_START), end=str(Q_END), limit="5000", direction="forward")
        check_eq(data["resultType"], "streams", "log query: streams")
        got = sorted((int(v[0]), v[1]) for st in data["result"] for v in st["values"])
        check_eq(got, sorted((l.ts, l.message) for l in exp[tmpl]),
                 f'| pattern_id = "{pid}" ({tmpl}): exactly its lines')
    # With another service's selector: nothing.
    pid = next(iter(ids["login"]))
    data = loki(s, "/loki/api/v1/query_range",
                query='{service="worker"} | pattern_id = "' + pid + '"',
                start=str(Q_START), end=str(Q_END), limit="5000")
    check_eq(data["result"], [], "worker lines with an api pattern id: none")
    # != keeps the others.
    data = loki(s, "/loki/api/v1/query_range", query='{service="api"} | pattern_id != "' + pid + '"',
                start=str(Q_START), end=str(Q_END), limit="5000")
    got = sorted(int(v[0]) for st in data["result"] for v in st["values"])
    check_eq(got, sorted(l.ts for l in lines if l.service == "api" and l.tmpl != "login"),
             f'pattern_id != "{pid}"')

    # A metric query: one point at Q_END over a range reaching back past Q_START.
    q = 'sum by (pattern_id) (count_over_time({} | pattern_id != "" [3h]))'
    data = loki(s, "/loki/api/v1/query_range", query=q, start=str(Q_END), end=str(Q_END),
                step="60")
    check_eq(data["resultType"], "matrix", "metric query: matrix")
    got = {}
    for series in data["result"]:
        check_eq(len(series["values"]), 1, f"one point: {series}")
        got[series["metric"].get("pattern_id")] = int(float(series["values"][0][1]))
    api = {p["id"]: p["count"] for p in patterns(s)["patterns"]}
    check_eq(got, api, "sum by (pattern_id): counts equal the patterns API's")
    check_eq(got, {next(iter(ids[t])): len(tl) for t, tl in exp.items()},
             "sum by (pattern_id): counts equal the posted lines")
    # Per service.
    q = 'sum by (pattern_id) (count_over_time({service="api"} | pattern_id != "" [3h]))'
    data = loki(s, "/loki/api/v1/query_range", query=q, start=str(Q_END), end=str(Q_END),
                step="60")
    got = {se["metric"].get("pattern_id"): int(float(se["values"][0][1])) for se in data["result"]}
    check_eq(got, {next(iter(ids[t])): len(tl) for t, tl in exp.items()
                   if TEMPLATES[t][0] == "api"}, "sum by (pattern_id) of {service=\"api\"}")


def check_loki_patterns(s, lines, ids, api_data):
    """(e) /loki/api/v1/patterns in Loki's shape."""
    exp = expected_by_template(lines)
    start_s, end_s = Q_START // SEC, Q_END // SEC
    data = loki(s, "/loki/api/v1/patterns", query='{service="api"}', start=str(start_s),
                end=str(end_s), step="10m")
    check(isinstance(data, list), f"data is a list: {data!r:.200}")
    text_of = {p["id"]: p["pattern"] for p in api_data["patterns"]}
    want = {}
    for t, tl in exp.items():
        if TEMPLATES[t][0] == "api":
            want[text_of[next(iter(ids[t]))].replace("<*>", "<_>")] = tl
    check_eq(sorted(p["pattern"] for p in data), sorted(want), "Loki patterns: texts with <_>")
    for p in data:
        check_eq(set(p), {"pattern", "samples"}, f"Loki pattern keys: {p}")
        check("<*>" not in p["pattern"] and "<_>" in p["pattern"], f"placeholders: {p['pattern']}")
        tl = want[p["pattern"]]
        check_eq(sum(c for _, c in p["samples"]), len(tl), f"{p['pattern']}: samples sum")
        buckets = collections.Counter((l.ts // SEC - start_s) // 600 * 600 + start_s for l in tl)
        check_eq([tuple(x) for x in p["samples"]], sorted(buckets.items()),
                 f"{p['pattern']}: [unix seconds, count] per 10m step, non-zero only")
    check_eq([len(want[p["pattern"]]) for p in data],
             sorted((len(want[p["pattern"]]) for p in data), reverse=True), "biggest first")


def check_cli(s, api_data):
    """`lode query --patterns` prints what the API answers."""
    def run(*args):
        out = subprocess.run(
            [s.lode, "query", "--patterns", "--url", s.url, "--tenant", TENANT,
             "--from", str(Q_START), "--to", str(Q_END), *args],
            capture_output=True, text=True, timeout=60)
        check_eq(out.returncode, 0, f"lode query --patterns {args}: {out.stderr}")
        return out.stdout
    raw = run("-o", "raw").splitlines()
    check_eq(raw, [p["pattern"] for p in api_data["patterns"]], "CLI raw: texts, biggest first")
    table = run().splitlines()
    check(table and table[0].split()[:3] == ["COUNT", "ID", "NEW"], f"CLI table header: {table[:1]}")
    for p in api_data["patterns"]:
        row = [l for l in table[1:] if l.rstrip().endswith(p["pattern"])]
        check_eq(len(row), 1, f"CLI table: one row for {p['pattern']!r}")
        cells = row[0].split()
        check_eq(cells[:2], [str(p["count"]), p["id"]], f"CLI table: count and id of {p['id']}")
        check_eq("new" in cells[2:3], p["new"], f"CLI table: new marker of {p['id']}")
    new_only = run("--new", "-o", "raw").splitlines()
    check_eq(new_only, [p["pattern"] for p in api_data["patterns"] if p["new"]],
             "CLI --new: only the new templates")


def check_bad_input(s):
    """(g) errors: 400 with a message naming the problem."""
    for path in ("/api/v1/patterns", "/loki/api/v1/patterns"):
        r = patterns(s, path, expect=400, query='{service="api"')
        check(r.body.strip() != "", f"{path}: invalid query has a message: {r}")
        r2 = patterns(s, path, expect=400, query='{service="api"} |= ')
        check(r2.body.strip() != "", f"{path}: invalid pipeline has a message: {r2}")
        r = patterns(s, path, expect=400, query='count_over_time({service="api"}[5m])')
        check("metric" in r.body, f"{path}: a metric query is refused by name: {r}")
        r = patterns(s, path, expect=400, step="often")
        check("step" in r.body and "often" in r.body, f"{path}: bad step named: {r}")
        r = patterns(s, path, expect=400, step="0")
        check("step" in r.body, f"{path}: zero step named: {r}")
        r = patterns(s, path, expect=400, new="maybe")
        check("new" in r.body and "maybe" in r.body, f"{path}: bad new named: {r}")
        r = patterns(s, path, expect=400, start=str(Q_END), end=str(Q_START))
        check("start" in r.body or "before" in r.body, f"{path}: reversed range named: {r}")
        r = patterns(s, path, expect=400, start="yesterday-ish")
        check("start" in r.body, f"{path}: bad start named: {r}")
        r = patterns(s, path, expect=400, limit="-3")
        check("limit" in r.body, f"{path}: bad limit named: {r}")


def check_lines_fit_their_patterns(records):
    """A record's `pattern` is the template of its line: every line fits the
    text it is shown with, joined templates included."""
    bad = collections.defaultdict(list)
    for r in records:
        if not template_matches(r["pattern"], r["message"]):
            bad[(r["pattern_id"], r["pattern"])].append(r["message"])
    check(not bad, "lines that do not fit the pattern they are returned with:\n" + "\n".join(
        f"  pattern {pid} {text!r}: {len(msgs)} lines, e.g. {msgs[0]!r}"
        for (pid, text), msgs in bad.items()))


# ---------------------------------------------------------------------------
# The scenario


def scenario(lode, cfg):
    initial = make_lines(INITIAL_COUNTS, 0, 120, 0)
    initial += make_lines({"evict": 9}, 95, 118, 1)
    initial.sort(key=lambda l: l.ts)
    s = Server(lode, extra_args=["--config", cfg])
    servers = [s]
    try:
        s.start()
        # (a) in a few requests, in time order; first up to the two proxy
        # lines that start two templates, which read as two ids ...
        third = [i for i, l in enumerate(initial) if l.tmpl == "proxy"][2]
        for k in range(0, third, 50):
            post_lines(s, initial[k:min(k + 50, third)])
        early, _ = ids_from_records(all_records(s), initial[:third])
        check_eq(len(early["proxy"]), 2, f"the first two proxy lines: two templates, {early['proxy']}")
        # ... until the third line fits both and joins them.
        for k in range(third, len(initial), 50):
            post_lines(s, initial[k:k + 50])

        # (c) records carry ids; one id per template, none shared.
        ids, texts = ids_from_records(all_records(s), initial)
        for t, i in ids.items():
            check_eq(len(i), 1, f"template {t}: one id for all its lines, got {sorted(i)}")
        flat = [next(iter(i)) for i in ids.values()]
        check_eq(len(set(flat)), len(flat), f"distinct ids per template: {dict(ids)}")
        for t, i in ids.items():
            if TEMPLATES[t][1] is not None:
                check_eq(texts[next(iter(i))], TEMPLATES[t][1], f"template {t}: record's pattern")
        # The native query's filters keep the ids.
        got = s.logs(HEADERS, service="worker", contains="finished", start=str(Q_START),
                     end=str(Q_END), limit=1000)["records"]
        check_eq({r["pattern_id"] for r in got}, ids["job"], "filtered query: job's id")
        check_eq(len(got), INITIAL_COUNTS["job"], "filtered query: job's lines")

        # (b), (d), (e), (g)
        api_data = check_patterns_api(s, initial, ids)
        for p in api_data["patterns"]:
            check_eq(p["pattern"], texts[p["id"]], f"pattern {p['id']}: same text as the records")
        check_patterns_params(s, initial, ids)
        check_logql(s, initial, ids)
        check_loki_patterns(s, initial, ids, api_data)
        check_cli(s, api_data)
        check_bad_input(s)

        # (f) ids across restarts.
        r = s.post("/api/v1/admin/flush", "", HEADERS)
        check_eq(r.status, 200, f"admin flush: {r}")
        wal_lines = make_lines(WAL_COUNTS, 121, 124, 2)
        post_lines(s, wal_lines)
        seen = initial + wal_lines
        got, _ = ids_from_records(all_records(s), seen)
        check_eq(dict(got), dict(ids), "ids of lines posted after the flush")
        s.kill()  # SIGKILL: the last lines live only in the WAL

        s = Server(lode, data_dir=servers[0].data_dir, extra_args=["--config", cfg])
        servers.append(s)
        s.start()
        got, _ = ids_from_records(all_records(s), seen)
        check_eq(dict(got), dict(ids), "ids after SIGKILL and WAL replay")
        after = make_lines(AFTER_COUNTS, 125, 129, 3)
        post_lines(s, after)
        seen += after
        got, texts2 = ids_from_records(all_records(s), seen)
        for t in ids:
            check_eq(got[t], ids[t], f"template {t}: id after the restart")
        check_eq(len(got["disk"]), 1, f"new template: one id, got {got['disk']}")
        (disk_id,) = got["disk"]
        check(disk_id not in flat, f"new template: a fresh id ({disk_id}, earlier {flat})")
        check_eq(texts2[disk_id], TEMPLATES["disk"][1], "new template's text")
        for pid in flat:
            check_eq(texts2[pid], texts[pid], f"pattern {pid}: same text after the restart")
        data = patterns(s)
        want = {next(iter(i)): n for t, i in got.items()
                for n in [sum(1 for l in seen if l.tmpl == t)]}
        check_eq({p["id"]: p["count"] for p in data["patterns"]}, want,
                 "patterns after the restart: total counts")
        new = {p["id"]: p["new"] for p in data["patterns"]}
        check_eq(new, {pid: pid in (disk_id, next(iter(ids["evict"]))) for pid in want},
                 "new after the restart: the late ones")

        # A clean stop (SIGTERM) and start: the lines since the restart are
        # replayed from the WAL once more.
        s.stop()
        s = Server(lode, data_dir=servers[0].data_dir, extra_args=["--config", cfg])
        servers.append(s)
        s.start()
        got3, _ = ids_from_records(all_records(s), seen)
        check_eq(dict(got3), dict(got), "ids after a clean restart")
        data = patterns(s)
        check_eq({p["id"]: p["count"] for p in data["patterns"]}, want,
                 "patterns after a clean restart: total counts")
        # Mining continues with the same ids.
        more = make_lines({"get": 2, "disk": 2}, 129, 130, 4)
        post_lines(s, more)
        got4, _ = ids_from_records(all_records(s), seen + more)
        check_eq(dict(got4), dict(got), "ids of lines posted after the clean restart")
        check_lines_fit_their_patterns(all_records(s))
    except Exception:
        print(f"--- server log (tail) ---\n{s.log()}")
        raise
    finally:
        for srv in servers:
            srv.kill()
        servers[0].cleanup()


def main():
    args = parse_args()
    t0 = time.time()
    with ConfigFile(CONFIG) as cfg:
        try:
            scenario(args.lode, cfg)
        except Exception:
            traceback.print_exc()
            print("0 passed, 1 failed")
            return 1
    print(f"1 passed, 0 failed ({time.time() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
