"""End to end: `lode gen --protocol P` through every protocol Lode ingests.

Starts `lode serve` with syslog over TCP and UDP on loopback ports, then runs
`lode gen --protocol P --count N --seed S --truth FILE` for http, loki,
loki-proto, otlp, es, syslog-tcp and syslog-udp. The HTTP protocols each get
their own tenant (X-Scope-OrgID); syslog carries no tenant, so both syslog
runs land in the server's syslog tenant and are told apart by their time
window (--start). For each run the query API must return exactly N records
(UDP: at least 90%, it is lossy by nature) whose (timestamp, level, service,
instance, source) are those of the truth file, line for line (as multisets:
the same values, the same number of times). The files protocol is covered by
the unit tests (src/gen/protocol_encoders_test.cc).
"""
import collections
import os
import subprocess
import tempfile
import time
import urllib.parse

from lodetest import ConfigFile, Server, check, check_eq, free_port, parse_args, run_cases

N = 2000
SYSLOG_TENANT = "gen-syslog"
TCP_PORT = free_port()
UDP_PORT = free_port()
# (protocol, seed, tenant or None for syslog, --start); each run's lines span N * 10ms.
RUNS = [
    ("http", 11, "gen-http", "2024-11-14T00:00:00Z"),
    ("loki", 12, "gen-loki", "2024-11-14T00:00:00Z"),
    ("loki-proto", 13, "gen-loki-proto", "2024-11-14T00:00:00Z"),
    ("otlp", 14, "gen-otlp", "2024-11-14T00:00:00Z"),
    ("es", 15, "gen-es", "2024-11-14T00:00:00Z"),
    ("syslog-tcp", 16, None, "2024-11-15T00:00:00Z"),
    ("syslog-udp", 17, None, "2024-11-16T00:00:00Z"),
]
# Source Lode gives the records of each protocol (http: the fleet's own, per line).
SOURCES = {"loki": "loki", "loki-proto": "loki", "otlp": "otlp", "es": "elasticsearch",
           "syslog-tcp": "syslog", "syslog-udp": "syslog"}


def read_truth(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        check_eq(header, ["timestamp_ns", "level", "service", "instance", "source", "template_id"],
                 "truth header")
        rows = [line.rstrip("\n").split("\t") for line in f]
    return collections.Counter((int(r[0]), r[1], r[2], r[3], r[4]) for r in rows)


def window(start):
    """The query window of a run: its day."""
    return start, start.replace("T00:00:00Z", "T23:59:59Z")


def query(server, tenant, start, end):
    params = {"start": start, "end": end, "limit": N + 100, "direction": "forward"}
    return server.logs(headers={"X-Scope-OrgID": tenant}, **params)["records"]


def total(server, tenant, start, end):
    r = server.get("/api/v1/aggregate?" + urllib.parse.urlencode({"start": start, "end": end}),
                   headers={"X-Scope-OrgID": tenant})
    check_eq(r.status, 200, f"aggregate for {tenant}: {r}")
    return r.json()["total"]


def run_gen(lode, server, protocol, seed, tenant, start, truth):
    url = (f"127.0.0.1:{TCP_PORT}" if protocol == "syslog-tcp" else
           f"udp://127.0.0.1:{UDP_PORT}" if protocol == "syslog-udp" else server.url)
    args = [lode, "gen", "--protocol", protocol, "--url", url, "--count", str(N), "--seed",
            str(seed), "--start", start, "--truth", truth, "--batch", "300", "--quiet"]
    if tenant:
        args += ["--tenant", tenant]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    check_eq(out.returncode, 0, f"lode gen --protocol {protocol} exit code ({out.stderr[-800:]})")


def check_run(lode, server, work, protocol, seed, tenant, start):
    truth_path = os.path.join(work, f"{protocol}.tsv")
    run_gen(lode, server, protocol, seed, tenant, start, truth_path)
    want = read_truth(truth_path)
    check_eq(sum(want.values()), N, f"{protocol}: truth rows")
    if protocol in SOURCES:
        check_eq({k[4] for k in want}, {SOURCES[protocol]}, f"{protocol}: truth source")
    t_from, t_to = window(start)
    tenant = tenant or SYSLOG_TENANT
    # HTTP answers after the records are stored; syslog is acknowledged by nobody: wait for the
    # count to reach N, or (UDP) to stop growing.
    deadline, last, stable_since = time.time() + 60, -1, time.time()
    while True:
        n = total(server, tenant, t_from, t_to)
        if n != last:
            last, stable_since = n, time.time()
        if n >= N or time.time() > deadline or (
                protocol == "syslog-udp" and n > 0 and time.time() - stable_since > 3):
            break
        time.sleep(0.2)
    records = query(server, tenant, t_from, t_to)
    got = collections.Counter((int(r["timestamp_ns"]), r["level"], r["service"], r["instance"],
                               r["source"]) for r in records)
    if protocol == "syslog-udp":
        check(N * 0.9 <= last <= N, f"{protocol}: {last} of {N} datagrams stored (want >= 90%)")
        check_eq(len(records), last, f"{protocol}: records returned")
        extra = got - want
        check(not extra, f"{protocol}: records not in the truth file: {list(extra)[:5]}")
    else:
        check_eq(last, N, f"{protocol}: records of tenant {tenant} in {t_from}..{t_to}")
        check_eq(len(records), N, f"{protocol}: records returned")
        missing, extra = want - got, got - want
        check(not missing and not extra,
              f"{protocol}: stored records differ from the truth: missing {list(missing)[:3]}, "
              f"unexpected {list(extra)[:3]}")
    # A sample, spelled out, so a failure shows one record whole.
    by_key = collections.defaultdict(list)
    for r in records:
        by_key[(int(r["timestamp_ns"]), r["service"], r["instance"])].append(r)
    for key in list(want)[:: max(1, len(want) // 20)]:
        candidates = by_key.get((key[0], key[2], key[3]), [])
        if not candidates:
            check(protocol == "syslog-udp", f"{protocol}: no record for truth line {key}")
            continue
        check(any((r["level"], r["source"]) == (key[1], key[4]) for r in candidates),
              f"{protocol}: truth line {key}, records {candidates}")
    return last


def main():
    args = parse_args()
    config = (f"syslog:\n  tcp: 127.0.0.1:{TCP_PORT}\n  udp: 127.0.0.1:{UDP_PORT}\n"
              f"  tenant: {SYSLOG_TENANT}\n")
    with ConfigFile(config) as cfg, tempfile.TemporaryDirectory(prefix="lode-gen-") as work:
        server = Server(args.lode, extra_args=["--config", cfg])
        try:
            server.start()
            passed, failed = run_cases(
                RUNS,
                lambda r: f"{check_run(args.lode, server, work, *r)} of {N} records match the truth",
                name=lambda r: r[0])
            if failed:
                print("--- server log (tail) ---\n" + server.log())
        finally:
            server.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
