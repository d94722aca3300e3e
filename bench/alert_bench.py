#!/usr/bin/env python3
"""Alerting: notification latency and the ingest cost of rules (issue 7, item 7).

  bench/alert_bench.py [LODE] [--probes 200] [--lines 300000]

Latency: `lode serve --rules` with a pattern rule (`|= "alert-probe"`, one
alert per probe id) and a webhook notifier pointing at a local HTTP server.
Each probe record is posted alone; the clock starts when the ingest answer
(200: the record is durable) arrives and stops when the webhook receives the
alert. Measured on an idle server and while `lode gen` feeds it 20,000
lines/s. Reported: p50, p90, p99, max.

Cost: the same N fleet records (NDJSON, 4 connections, batches of 2,000) sent
to a fresh server with no rules and with 100 rules (threshold rules on a
service and a line filter, error-rate rules by service, pattern rules with
rare filters); reported: records per server CPU-second, and the ratio.
Results go to stdout and bench/out/alerts-<UTC time>.md.
"""
import argparse
import datetime
import http.client
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import protocols_bench as pb  # noqa: E402  (records, bodies, CPU time)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hook(http.server.BaseHTTPRequestHandler):
    arrivals = {}

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.monotonic()
        for a in json.loads(body).get("alerts", []):
            probe = a.get("labels", {}).get("probe")
            if probe and a.get("status") == "firing":
                Hook.arrivals.setdefault(probe, now)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def start_server(lode, work, rules_yaml, notifiers_yaml):
    os.makedirs(work, exist_ok=True)
    port = free_port()
    with open(os.path.join(work, "rules.yaml"), "w") as f:
        f.write(rules_yaml)
    with open(os.path.join(work, "lode.yaml"), "w") as f:
        f.write("alerting:\n  rules: " + os.path.join(work, "rules.yaml") + "\n" + notifiers_yaml)
    proc = subprocess.Popen([lode, "serve", "--data", os.path.join(work, "data"), "--http",
                             f"127.0.0.1:{port}", "--config", os.path.join(work, "lode.yaml"),
                             "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("lode serve did not start")


def latency(lode, probes, load):
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    Hook.arrivals = {}
    work = tempfile.mkdtemp(prefix="lode-alert-bench-")
    rules = """rules:
  - name: Probe
    type: pattern
    query: '{} |= "alert-probe"'
    by: [probe]
    resolve_after: 10m
"""
    notifiers = f"  notifiers:\n    - {{type: webhook, url: http://127.0.0.1:{hook.server_port}/hook}}\n"
    proc, port = start_server(lode, work, rules, notifiers)
    gen = None
    try:
        if load:
            gen = subprocess.Popen([lode, "gen", "--url", f"http://127.0.0.1:{port}", "--count",
                                    "0", "--rate", "20000", "--quiet"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sent = {}
        for i in range(probes):
            pid = f"p{i}"
            body = json.dumps({"service": "bench", "message": f"alert-probe {pid}", "probe": pid})
            conn.request("POST", "/api/v1/logs", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            sent[pid] = time.monotonic()
            time.sleep(0.02)
        deadline = time.time() + 30
        while len(Hook.arrivals) < probes and time.time() < deadline:
            time.sleep(0.05)
        lat = sorted((Hook.arrivals[p] - t) * 1000 for p, t in sent.items() if p in Hook.arrivals)
    finally:
        if gen:
            gen.terminate()
            gen.wait()
        proc.terminate()
        proc.wait(timeout=60)
        hook.shutdown()
        subprocess.run(["rm", "-rf", work])

    def q(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))]
    return {"received": len(lat), "sent": probes, "p50": q(0.50), "p90": q(0.90), "p99": q(0.99),
            "max": lat[-1]}


def hundred_rules(services):
    out = ["rules:"]
    for i in range(50):
        svc = services[i % len(services)]
        out.append(f"""  - name: Timeouts{i}
    query: '{{service="{svc}"}} |= "timeout"'
    window: 1m
    condition: "> {1000 + i}"
""")
    for i in range(25):
        out.append(f"""  - name: ErrorRate{i}
    query: '{{level="error"}} != "healthcheck{i}"'
    by: [service]
    window: 5m
    rate: true
    condition: "> {100 + i}"
""")
    for i in range(25):
        out.append(f"""  - name: Rare{i}
    type: pattern
    query: '{{}} |= "zebracorn{i}"'
""")
    return "\n".join(out)


def cost(lode, records, rules_yaml, batch=2000, connections=4):
    work = tempfile.mkdtemp(prefix="lode-alert-cost-")
    proc, port = start_server(lode, work, rules_yaml, "  notifiers: [{type: console}]\n")
    try:
        payloads = [pb.bodies("ndjson", records[i:i + batch]) for i in range(0, len(records), batch)]
        cpu0, t0 = pb.cpu_seconds(proc.pid), time.time()

        def send(chunk):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            for path, ctype, body in chunk:
                c.request("POST", path, body, {"Content-Type": ctype})
                r = c.getresponse()
                r.read()
                if r.status >= 300:
                    raise RuntimeError(f"HTTP {r.status}")
        threads = [threading.Thread(target=send, args=(payloads[i::connections],))
                   for i in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall, cpu = time.time() - t0, pb.cpu_seconds(proc.pid) - cpu0
        return {"records": len(records), "wall": wall, "cpu": cpu}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        subprocess.run(["rm", "-rf", work])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lode", nargs="?", default=os.path.join(HERE, "..", "build", "lode"))
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--lines", type=int, default=300_000)
    args = ap.parse_args()
    lode = os.path.abspath(args.lode)
    idle = latency(lode, args.probes, load=False)
    busy = latency(lode, args.probes, load=True)
    records = pb.load_records(lode, args.lines)
    services = sorted({r["service"] for r in records})
    base = cost(lode, records, "rules: []\n")
    ruled = cost(lode, records, hundred_rules(services))
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [f"# Alerting, {now:%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} cores", "",
             "Latency from the ingest answer to the webhook receiving the alert (ms):", "",
             "| server | alerts | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|"]
    for name, r in (("idle", idle), ("ingesting 20,000 lines/s", busy)):
        lines.append(f"| {name} | {r['received']}/{r['sent']} | {r['p50']:.1f} | {r['p90']:.1f} | "
                     f"{r['p99']:.1f} | {r['max']:.1f} |")
    b = base["records"] / base["cpu"]
    c = ruled["records"] / ruled["cpu"]
    lines += ["", f"Ingest of {args.lines:,} NDJSON records:", "",
              "| rules | records/s (wall) | records per server CPU-s | ratio |", "|---|---|---|---|",
              f"| 0 | {base['records'] / base['wall']:,.0f} | {b:,.0f} | 1.00 |",
              f"| 100 | {ruled['records'] / ruled['wall']:,.0f} | {c:,.0f} | {c / b:.2f} |"]
    report = "\n".join(lines)
    print(report)
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", f"alerts-{now:%Y%m%dT%H%M%SZ}.md"), "w") as f:
        f.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
