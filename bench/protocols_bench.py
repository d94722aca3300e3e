#!/usr/bin/env python3
"""Ingest throughput per protocol (issue 6, item 10).

  bench/protocols_bench.py [LODE] [--lines N] [--batch B] [--connections C]

The same N records of the simulated fleet (`lode gen --seed 1`: its messages,
and its ground truth for time, level, service and instance) are sent to a
fresh `lode serve` once per protocol: Lode's NDJSON, Loki push JSON, Loki push
protobuf (snappy), OTLP/HTTP JSON, Elasticsearch bulk, and syslog RFC 5424
over TCP with octet counting; and log files in the Kubernetes layout (CRI
lines under <dir>/<ns>_<pod>_<uid>/<container>/0.log), tailed by `lode serve
--files` itself and by `lode agent` shipping to the server. Bodies are built before the clock starts; C
connections post batches of B records. Reported per protocol: records per
second (wall), records per server CPU-second (utime + stime of the server
process, so the client's own CPU does not count; for the agent, the server's
and the agent's), and the ratio to NDJSON. File lines are written to disk
after the server (and agent) start; their writing is the client's cost.
The client and server share the machine's cores: compare ratios within a run.
Results go to stdout and bench/out/protocols-<UTC time>.md.
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICKS = os.sysconf("SC_CLK_TCK")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def snappy_literal(data):
    """A valid snappy block made of literals (the server decompresses it as it
    would any snappy body; Python has no snappy compressor)."""
    out = bytearray(varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        out += bytes([62 << 2]) + (len(chunk) - 1).to_bytes(3, "little") + chunk
    return bytes(out)


def load_records(lode, n):
    with tempfile.TemporaryDirectory() as tmp:
        truth = os.path.join(tmp, "truth.tsv")
        gen = subprocess.run([lode, "gen", "--count", str(n), "--seed", "1", "--truth", truth],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        rows = open(truth).read().splitlines()[1:]
    records = []
    for line, row in zip(gen, rows):
        ts, level, service, instance, _, _ = row.split("\t")
        doc = json.loads(line)
        message = next((doc[k] for k in ("log", "message", "msg", "MESSAGE")
                        if isinstance(doc.get(k), str)), line)
        records.append({"ts": int(ts), "level": level, "service": service or "unknown",
                        "instance": instance, "message": message.rstrip("\n")})
    return records


def bodies(proto, batch):
    if proto == "ndjson":
        return ("/api/v1/logs", "application/x-ndjson",
                "\n".join(json.dumps({"timestamp": str(r["ts"]), "level": r["level"],
                                      "service": r["service"], "host": r["instance"],
                                      "message": r["message"]}) for r in batch).encode())
    if proto == "loki-json":
        streams = {}
        for r in batch:
            streams.setdefault((r["service"], r["level"]), []).append([str(r["ts"]), r["message"]])
        return ("/loki/api/v1/push", "application/json", json.dumps({"streams": [
            {"stream": {"service": s, "level": l}, "values": v}
            for (s, l), v in streams.items()]}).encode())
    if proto == "loki-protobuf":
        streams = {}
        for r in batch:
            streams.setdefault((r["service"], r["level"]), []).append(r)
        body = b""
        for (s, l), rs in streams.items():
            msg = field(1, f'{{service="{s}", level="{l}"}}'.encode())
            for r in rs:
                ts = varint(1 << 3) + varint(r["ts"] // 10**9) + varint(2 << 3) + varint(r["ts"] % 10**9)
                msg += field(2, field(1, ts) + field(2, r["message"].encode()))
            body += field(1, msg)
        return ("/loki/api/v1/push", "application/x-protobuf", snappy_literal(body))
    if proto == "otlp-json":
        by_service = {}
        for r in batch:
            by_service.setdefault(r["service"], []).append(r)
        sev = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
        return ("/v1/logs", "application/json", json.dumps({"resourceLogs": [
            {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": s}}]},
             "scopeLogs": [{"logRecords": [
                 {"timeUnixNano": str(r["ts"]), "severityNumber": sev.get(r["level"], 0),
                  "body": {"stringValue": r["message"]},
                  "attributes": [{"key": "host.name", "value": {"stringValue": r["instance"]}}]}
                 for r in rs]}]} for s, rs in by_service.items()]}).encode())
    if proto == "es-bulk":
        lines = []
        for r in batch:
            lines.append('{"index":{"_index":"logs"}}')
            lines.append(json.dumps({"@timestamp": str(r["ts"]), "log.level": r["level"],
                                     "service.name": r["service"], "host.name": r["instance"],
                                     "message": r["message"]}))
        return ("/_bulk", "application/x-ndjson", ("\n".join(lines) + "\n").encode())
    raise ValueError(proto)


def syslog_frames(batch):
    sev = {"trace": 7, "debug": 7, "info": 6, "warn": 4, "error": 3, "fatal": 2}
    out = bytearray()
    for r in batch:
        t = datetime.datetime.fromtimestamp(r["ts"] / 1e9, datetime.timezone.utc)
        host = (r["instance"] or "-").replace(" ", "_")[:255]
        msg = (f"<{16 * 8 + sev.get(r['level'], 6)}>1 {t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} "
               f"{host} {r['service']} - - - {r['message']}").encode()
        out += str(len(msg)).encode() + b" " + msg
    return bytes(out)


def write_pod_logs(root, records):
    """The records as CRI lines, one pod per service."""
    import re
    files = {}
    for r in records:
        svc = re.sub(r"[^a-z0-9-]", "-", r["service"].lower()).strip("-") or "unknown"
        if svc not in files:
            d = os.path.join(root, f"bench_{svc}-7d9f8b6c5-x2x9k_uid-{len(files)}", svc)
            os.makedirs(d)
            files[svc] = []
        s, ns = divmod(r["ts"], 1_000_000_000)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ns:09d}Z"
        msg = r["message"].replace("\n", " ")
        files[svc].append(f"{ts} stdout F {msg}\n")
    for svc, lines in files.items():
        d = next(e.path for e in os.scandir(root) if e.name.startswith(f"bench_{svc}-7d9f8b6c5"))
        with open(os.path.join(d, svc, "0.log"), "w") as f:
            f.write("".join(lines))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_protocol(lode, proto, records, batch_size, connections):
    work = tempfile.mkdtemp(prefix="lode-proto-bench-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    syslog_port = s.getsockname()[1]
    s.close()
    pods = os.path.join(work, "pods")
    os.makedirs(pods)
    extra = ["--files", os.path.join(pods, "*/*/*.log")] if proto == "files-serve" else []
    proc = subprocess.Popen([lode, "serve", "--data", os.path.join(work, "data"), "--http",
                             f"127.0.0.1:{port}", "--syslog-tcp", f"127.0.0.1:{syslog_port}",
                             "--log-level", "warn", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = None
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        batches = [records[i:i + batch_size] for i in range(0, len(records), batch_size)]
        if proto == "syslog-tcp":
            payloads = [syslog_frames(b) for b in batches]
        elif proto.startswith("files"):
            payloads = []
        else:
            payloads = [bodies(proto, b) for b in batches]
        if proto == "files-agent":
            agent = subprocess.Popen(
                [lode, "agent", "--url", f"http://127.0.0.1:{port}", "--path",
                 os.path.join(pods, "*/*/*.log"), "--state-dir", os.path.join(work, "agent"),
                 "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        pids = [proc.pid] + ([agent.pid] if agent else [])
        cpu0, t0 = sum(cpu_seconds(p) for p in pids), time.time()
        if proto.startswith("files"):
            write_pod_logs(pods, records)

        def send(chunk):
            if proto == "syslog-tcp":
                with socket.create_connection(("127.0.0.1", syslog_port)) as sock:
                    for p in chunk:
                        sock.sendall(p)
                return
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            for path, ctype, body in chunk:
                conn.request("POST", path, body, {"Content-Type": ctype})
                res = conn.getresponse()
                data = res.read()
                if res.status >= 300:
                    raise RuntimeError(f"{proto}: HTTP {res.status}: {data[:200]!r}")

        chunks = [payloads[i::connections] for i in range(connections)]
        with concurrent.futures.ThreadPoolExecutor(connections) as pool:
            list(pool.map(send, chunks))
        # Wait until every record is stored (syslog is acknowledged by nobody).
        deadline = time.time() + 300
        while time.time() < deadline:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/api/v1/aggregate")
            total = json.loads(c.getresponse().read())["total"]
            if total >= len(records):
                break
            time.sleep(0.05)
        wall, cpu = time.time() - t0, sum(cpu_seconds(p) for p in pids) - cpu0
        return {"protocol": proto, "records": total, "wall": wall, "cpu": cpu}
    finally:
        if agent:
            agent.terminate()
            agent.wait(timeout=60)
        proc.terminate()
        proc.wait(timeout=60)
        subprocess.run(["rm", "-rf", work])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lode", nargs="?", default=os.path.join(HERE, "..", "build", "lode"))
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--protocols", default="ndjson,loki-json,loki-protobuf,otlp-json,es-bulk,"
                    "syslog-tcp,files-serve,files-agent",
                    help="comma-separated; the first is the baseline of the ratios")
    args = ap.parse_args()
    lode = os.path.abspath(args.lode)
    records = load_records(lode, args.lines)
    results = [run_protocol(lode, p, records, args.batch, args.connections)
               for p in args.protocols.split(",")]
    base = results[0]["records"] / results[0]["cpu"]
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [f"# Ingest per protocol, {now:%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} cores, "
             f"{args.lines:,} records, batches of {args.batch}, {args.connections} connections",
             "", f"| protocol | records stored | records/s (wall) | records per server (+agent) CPU-s | vs {results[0]['protocol']} |",
             "|---|---|---|---|---|"]
    for r in results:
        per_cpu = r["records"] / r["cpu"] if r["cpu"] > 0 else float("nan")
        lines.append(f"| {r['protocol']} | {r['records']:,} | {r['records'] / r['wall']:,.0f} | "
                     f"{per_cpu:,.0f} | {per_cpu / base:.2f} |")
    report = "\n".join(lines)
    print(report)
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", f"protocols-{now:%Y%m%dT%H%M%SZ}.md"), "w") as f:
        f.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
