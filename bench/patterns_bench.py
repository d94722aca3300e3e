#!/usr/bin/env python3
"""Pattern mining through the HTTP API, scored on LogHub (issue 5).

  bench/patterns_bench.py [LODE] [--loghub DIR] [--out DIR]

For every system directory in the LogHub samples (default ../shared/data/loghub
next to the repository; each has loghub2/<System>_2k.log_structured_corrected.csv),
starts a fresh `lode serve` (temporary data directory, free loopback port), posts
every line of the structured CSV to POST /api/v1/logs as one NDJSON record
(`message` = the Content column, `service` = the system's name, timestamps
1 ms apart so the order is kept), reads every record back from GET /api/v1/logs
(forward) and matches it to its line by timestamp. It scores grouping accuracy
as the LogHub benchmark does (a line is right when the lines sharing its
pattern id are exactly the lines sharing its true template) and counts the
templates found against the true ones.

Also printed, when `lode_unit_tests` sits next to LODE: the same figure from the
offline miner test (PatternMinerLogHub*, which mines the Content column
directly), so that a difference made by the ingest path shows. The Markdown
report goes to stdout and bench/out/patterns-<UTC time>.md. Without the LogHub
directory it prints SKIP and exits 0. Standard library only.
"""
import argparse
import collections
import csv
import datetime
import decimal
import fractions
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# Drain's published grouping accuracy on Loghub-2k (corrected ground truth).
DRAIN = {"HDFS": 0.998, "Apache": 1.000, "OpenSSH": 0.789, "Zookeeper": 0.967,
         "Spark": 0.922, "Linux": 0.690, "Proxifier": 0.526, "HealthApp": 0.780}
BASE_NS = 1704067200 * 10**9  # 2024-01-01T00:00:00Z: the first line's time
MS = 10**6
BATCH = 500  # lines per request, posted one request after the other


def die(msg):
    print(f"patterns_bench: {msg}", file=sys.stderr)
    sys.exit(1)


def warn(msg):
    print(f"patterns_bench: WARNING: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `lode serve` with its own temporary data directory."""

    def __init__(self, lode):
        self.dir = tempfile.mkdtemp(prefix="lode-patterns-bench-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [lode, "serve", "--data", os.path.join(self.dir, "data"),
             "--http", f"127.0.0.1:{self.port}", "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                die(f"lode serve exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            if time.time() > deadline:
                self.close()
                die("lode serve was not ready within 30 s")
            time.sleep(0.05)

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def json(self, path, **params):
        status, body = self.request("GET", path + "?" + urllib.parse.urlencode(params))
        if status != 200:
            die(f"GET {path} {params}: HTTP {status}: {body[:300]!r}\n{self.tail()}")
        return json.loads(body)

    def tail(self):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return f.read()[-3000:].decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def truth_file(system_dir, system):
    for rel in (f"loghub2/{system}_2k.log_structured_corrected.csv",
                f"corrected/{system}_2k.log_structured_corrected.csv",
                f"{system}_2k.log_structured.csv"):
        p = os.path.join(system_dir, rel)
        if os.path.exists(p):
            return p
    return None


def read_truth(path):
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        rows = list(csv.DictReader(f))
    for col in ("Content", "EventTemplate"):
        if rows and col not in rows[0]:
            die(f"{path}: no {col} column (columns: {list(rows[0])})")
    return rows


def rfc3339(ns):
    secs, frac = divmod(ns, 10**9)
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def grouping_accuracy(predicted, truth):
    """LogHub's grouping accuracy: the share of lines whose predicted group
    holds exactly the lines of their true group."""
    by_pred, by_true = collections.defaultdict(set), collections.defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth)):
        by_pred[p].add(i)
        by_true[t].add(i)
    right = sum(1 for p, t in zip(predicted, truth) if by_pred[p] == by_true[t])
    return fractions.Fraction(right, len(predicted))


def run_system(lode, system, path):
    rows = read_truth(path)
    contents = [r["Content"] for r in rows]
    truth = [r["EventTemplate"] for r in rows]
    event_ids = [r.get("EventId", r["EventTemplate"]) for r in rows]
    n = len(rows)
    notes = []
    srv = Server(lode)
    try:
        t0 = time.time()
        for k in range(0, n, BATCH):
            body = "".join(
                json.dumps({"timestamp": rfc3339(BASE_NS + i * MS), "service": system,
                            "message": contents[i]}, ensure_ascii=False) + "\n"
                for i in range(k, min(k + BATCH, n))).encode("utf-8", "surrogateescape")
            status, answer = srv.request("POST", "/api/v1/logs", body,
                                         {"Content-Type": "application/x-ndjson"})
            got = json.loads(answer) if status in (200, 400) else None
            if status != 200 or got.get("rejected"):
                die(f"{system}: POST /api/v1/logs lines {k + 1}-{k + BATCH}: HTTP {status}: "
                    f"{answer[:500]!r}")
        ingest_s = time.time() - t0
        start, end = BASE_NS, BASE_NS + n * MS
        records = srv.json("/api/v1/logs", service=system, start=str(start), end=str(end),
                           direction="forward", limit=str(max(n, 1)))["records"]
        patterns = srv.json("/api/v1/patterns", query=f'{{service="{system}"}}',
                            start=str(start), end=str(end + 1), limit="5000")["data"]
    finally:
        srv.close()

    if len(records) != n:
        die(f"{system}: posted {n} lines, read back {len(records)}")
    predicted = [None] * n
    changed = 0
    for r in records:
        i, rem = divmod(int(r["timestamp_ns"]) - BASE_NS, MS)
        if rem != 0 or not 0 <= i < n or predicted[i] is not None:
            die(f"{system}: record at an unexpected time: {r}")
        pid = r.get("pattern_id")
        if pid is None:
            pid = f"none-{i}"  # no pattern: a group of its own
            notes.append(f"line {i + 1} has no pattern_id")
        predicted[i] = pid
        if r["message"] != contents[i]:
            changed += 1
    if changed:
        notes.append(f"{changed} messages read back differ from the Content column")
    ga = grouping_accuracy(predicted, truth)
    ga_id = grouping_accuracy(predicted, event_ids)
    if ga != ga_id:
        notes.append(f"GA by EventId {ga_id:.4f} (by EventTemplate {ga:.4f})")
    # The patterns API must agree with the records' ids.
    counts = collections.Counter(predicted)
    api_counts = {p["id"]: p["count"] for p in patterns["patterns"]}
    if patterns["total_patterns"] != len(counts) or api_counts != dict(counts):
        notes.append(f"/api/v1/patterns disagrees with the records: total_patterns "
                     f"{patterns['total_patterns']} vs {len(counts)} ids read back")
    return {"system": system, "lines": n, "ga": ga, "templates": len(counts),
            "true_templates": len(set(truth)), "ingest_s": ingest_s, "notes": notes}


def offline_figures(lode, loghub):
    """GA per system from the offline miner test, or {} without the binary."""
    binary = os.path.join(os.path.dirname(os.path.abspath(lode)), "lode_unit_tests")
    if not os.access(binary, os.X_OK):
        return {}
    try:
        out = subprocess.run([binary, "--gtest_filter=PatternMinerLogHub*"], capture_output=True,
                             text=True, timeout=300).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        warn(f"{binary}: {e}")
        return {}
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"\[ patterns \] (\S+)\s+GA ([0-9.]+)", out)}


def fmt(x, places=3):
    """x rounded half up (0.9245 -> 0.925, as the unit test's 4 decimals read)."""
    if isinstance(x, fractions.Fraction):
        d = decimal.Decimal(x.numerator) / decimal.Decimal(x.denominator)
    else:
        d = decimal.Decimal(str(x))
    return str(d.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("lode", nargs="?", default=os.path.join(REPO, "build", "lode"))
    p.add_argument("--loghub", default=os.path.join(REPO, "..", "shared", "data", "loghub"))
    p.add_argument("--out", default=os.path.join(HERE, "out"))
    a = p.parse_args()
    loghub = os.path.normpath(a.loghub)
    if not os.path.isdir(loghub):
        print(f"SKIP: no LogHub samples at {loghub} (they live in ../shared/data/loghub)")
        return 0
    if not os.access(a.lode, os.X_OK):
        die(f"{a.lode}: not an executable (build it with `make build`)")

    systems = []
    for name in sorted(os.listdir(loghub), key=lambda s: (s not in DRAIN, list(DRAIN).index(s)
                                                          if s in DRAIN else 0, s)):
        d = os.path.join(loghub, name)
        if not os.path.isdir(d):
            continue
        f = truth_file(d, name)
        if f is None:
            warn(f"{d}: no structured CSV, skipped")
            continue
        systems.append((name, f))
    if not systems:
        print(f"SKIP: no system directories with a structured CSV in {loghub}")
        return 0

    offline = offline_figures(a.lode, loghub)
    results = []
    for name, f in systems:
        r = run_system(a.lode, name, f)
        print(f"patterns_bench: {name}: {r['lines']} lines, GA {fmt(r['ga'], 4)}, "
              f"{r['templates']}/{r['true_templates']} templates, ingest {r['ingest_s']:.2f} s",
              file=sys.stderr, flush=True)
        results.append(r)

    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [f"# Lode pattern mining through the HTTP API (LogHub 2k), "
             f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')}, {os.cpu_count()} cores, {platform.release()}",
             "",
             "Grouping accuracy as the LogHub benchmark scores it; one fresh `lode serve` per "
             "system, lines posted in order (`message` = Content, `service` = system).",
             ""]
    head = "| system | lines | Lode GA | Drain GA (published) | templates (Lode/truth) |"
    rule = "|---|---|---|---|---|"
    if offline:
        head += " offline miner GA |"
        rule += "---|"
    lines += [head, rule]
    for r in results:
        drain = DRAIN.get(r["system"])
        row = (f"| {r['system']} | {r['lines']:,} | {fmt(r['ga'])} | "
               f"{fmt(drain) if drain is not None else '—'} | "
               f"{r['templates']}/{r['true_templates']} |")
        if offline:
            off = offline.get(r["system"])
            if off is None:
                row += " — |"
            else:
                # The offline test prints 4 decimals.
                row += f" {fmt(off)}{'' if fmt(off, 4) == fmt(r['ga'], 4) else ' (differs)'} |"
        lines.append(row)
    mean = sum(r["ga"] for r in results) / len(results)
    with_drain = [r for r in results if r["system"] in DRAIN]
    drain_mean = (sum(DRAIN[r["system"]] for r in with_drain) / len(with_drain)
                  if with_drain else None)
    mean_row = (f"| mean | {sum(r['lines'] for r in results):,} | {fmt(mean)} | "
                f"{fmt(drain_mean) if drain_mean is not None else '—'} | "
                f"{sum(r['templates'] for r in results)}/"
                f"{sum(r['true_templates'] for r in results)} |")
    if offline:
        offs = [offline[r["system"]] for r in results if r["system"] in offline]
        mean_row += f" {fmt(sum(offs) / len(offs)) if offs else '—'} |"
    lines.append(mean_row)
    if len(with_drain) != len(results):
        lines += ["", f"Drain's mean is over the {len(with_drain)} systems with a published figure."]
        lodes = [r["ga"] for r in with_drain]
        if lodes:
            lines.append(f"Lode's mean over the same systems: {fmt(sum(lodes) / len(lodes))}.")
    notes = [f"- {r['system']}: {n}" for r in results for n in r["notes"]]
    if offline:
        diff = [r["system"] for r in results
                if r["system"] in offline and fmt(offline[r["system"]], 4) != fmt(r["ga"], 4)]
        notes.append("- offline miner (`lode_unit_tests --gtest_filter=PatternMinerLogHub*`): " +
                     (f"differs on {', '.join(diff)}" if diff else "same figures"))
    if notes:
        lines += ["", "Notes:", *notes]
    report = "\n".join(lines) + "\n"
    print(report, end="")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"patterns-{now.strftime('%Y%m%dT%H%M%SZ')}.md")
    with open(path, "w") as f:
        f.write(report)
    print(f"(saved to {os.path.relpath(path)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
