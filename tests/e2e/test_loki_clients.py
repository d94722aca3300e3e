"""End to end: Loki push from a real npm client, and the protobuf wire format.

winston-loki (tests/clients, installed by scripts/setup.sh from the npm
registry) pushes with snappy-compressed protobuf by default and with JSON when
asked; every line must arrive queryable with its labels mapped (app → service,
level → level, the rest → attributes). Hand-built protobuf bodies then check
the error answers: a body that is not snappy, and a stream whose labels do not
parse, named in a 400 while nothing else is lost.
"""
import os
import re
import subprocess
import sys
import time

from lodetest import (CLIENTS_DIR, SKIP, check, check_eq, npm_clients_missing, parse_args, run_tests,
                      wait_for_records)

CLIENTS = CLIENTS_DIR


def node(*args):
    out = subprocess.run(["node", os.path.join(CLIENTS, "loki_push.js"), *args],
                         capture_output=True, text=True, timeout=120)
    check_eq(out.returncode, 0, f"node loki_push.js {args}: {out.stderr[-500:]}")


def wait_for(s, service, want):
    return wait_for_records(s, want, service=service)


def test_winston_loki_protobuf(s):
    node(s.url, "25")
    got = wait_for(s, "checkout", 25)
    check_eq(len(got), 25, "every line pushed with protobuf + snappy")
    by_n = {int(r["message"].split()[1]): r for r in got}
    check_eq(sorted(by_n), list(range(25)), "each line once")
    for n, r in by_n.items():
        check(r["message"].startswith(f"order {n} "), f"message: {r['message']!r}")
        check_eq(r["level"], "error" if n % 10 == 0 else "info", f"level of line {n}")
        check_eq(r["source"], "loki", "source")
        check_eq(r["attributes"].get("env"), "test", "stream label -> attribute")
        check_eq(r["attributes"].get("region"), "eu" if n % 2 else "us", "per-line label")
        check(abs(int(r["timestamp_ns"]) / 1e9 - time.time()) < 120, "timestamp is now")


def test_winston_loki_json(s):
    node(s.url, "5", "--json")
    got = wait_for(s, "checkout-json", 5)
    check_eq(len(got), 5, "every line pushed with JSON")


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
    """Snappy block format with literals only (valid, just not compressed)."""
    out = bytearray(varint(len(data)))
    for i in range(0, len(data), 256):
        chunk = data[i:i + 256]
        out += bytes([60 << 2, len(chunk) - 1]) + chunk
    return bytes(out)


def push_request(streams):
    body = b""
    for labels, entries in streams:
        s = field(1, labels.encode())
        for seconds, line in entries:
            ts = varint(1 << 3 | 0) + varint(seconds) + varint(2 << 3 | 0) + varint(500)
            s += field(2, field(1, ts) + field(2, line.encode()))
        body += field(1, s)
    return body


def test_hand_built_protobuf(s):
    headers = {"Content-Type": "application/x-protobuf"}
    t = int(time.time()) - 30
    body = push_request([('{service="proto-test", level="warn", zone="a"}',
                          [(t, "disk 1 almost full"), (t + 1, "disk 2 almost full")])])
    r = s.post("/loki/api/v1/push", snappy_literal(body), headers)
    check_eq(r.status, 204, f"valid protobuf push: {r}")
    got = wait_for(s, "proto-test", 2)
    check_eq(sorted(g["message"] for g in got), ["disk 1 almost full", "disk 2 almost full"],
             "lines")
    check_eq({g["level"] for g in got}, {"warn"}, "level label")
    check_eq(sorted(int(g["timestamp_ns"]) for g in got),
             [t * 10**9 + 500, (t + 1) * 10**9 + 500], "seconds + nanos")
    r = s.post("/loki/api/v1/push", body, headers)  # not snappy
    check_eq(r.status, 400, f"uncompressed body: {r}")
    check("snappy" in r.body, f"the error says snappy: {r.body!r}")
    bad = push_request([('{service="x", oops}', [(t, "never stored")])])
    r = s.post("/loki/api/v1/push", snappy_literal(bad), headers)
    check_eq(r.status, 400, f"bad labels: {r}")
    check("stream 0" in r.body and "oops" in r.body, f"the error names the stream: {r.body!r}")
    metrics = s.get("/metrics").body
    m = re.search(r'^lode_ingest_accepted_records_total\{source="loki"\} (\d+)$', metrics, re.M)
    check(m is not None and int(m.group(1)) == 32, f"Loki push counted as source loki: {m}")


def main():
    args = parse_args()
    missing = npm_clients_missing()
    if missing:
        print(f"SKIP: {missing}")
        return SKIP
    return run_tests([test_winston_loki_protobuf, test_winston_loki_json, test_hand_built_protobuf],
                     args.lode)


if __name__ == "__main__":
    sys.exit(main())
