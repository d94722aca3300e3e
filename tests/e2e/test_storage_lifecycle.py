"""End to end: the storage lifecycle through the HTTP API.

A server configured to archive data older than a day and delete data older
than 30 days receives records of today, 3 days ago and 40 days ago. After a
flush and a maintenance round: today's records are live, the 3-day-old ones
are archived (found only with archive=true, and back after a restore), the
40-day-old ones are gone. The data survives a restart in each state.
"""
import json
import sys
import time

from lodetest import check, check_eq, parse_args, run_scenario

DAY = 86400


def post(s, service, ts, n):
    body = "\n".join(json.dumps({"message": f"{service} line {i}", "service": service,
                                 "ts": ts + i}) for i in range(n))
    r = s.post("/api/v1/logs", body)
    check_eq(r.json()["accepted"], n, f"accepted for {service}")


def metric(s, name):
    for line in s.get("/metrics").body.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"metric {name} missing")


def wait_for(cond, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def count(s, service, **extra):
    return len(s.logs(service=service, limit=10000, **extra)["records"])


def scenario(server):
    now = int(time.time())
    post(server, "fresh", now - 60, 50)
    post(server, "recent", now - 3 * DAY, 40)
    post(server, "ancient", now - 40 * DAY, 30)
    check_eq(count(server, "recent"), 40, "head serves everything before a flush")

    r = server.post("/api/v1/admin/flush", "")
    check_eq(r.status, 200, f"flush: {r}")
    # The maintenance thread runs every second: archive, then retention.
    wait_for(lambda: metric(server, "lode_store_archived_segments") >= 1, "archiving")
    wait_for(lambda: metric(server, "lode_store_retention_deleted_segments_total") >= 1,
             "retention")
    check_eq(count(server, "fresh"), 50, "fresh records live")
    check_eq(count(server, "recent"), 0, "archived records not searched by default")
    check_eq(count(server, "recent", archive="true"), 40, "archived records with archive=true")
    check_eq(count(server, "ancient", archive="true"), 0, "records past retention deleted")
    agg = server.get("/api/v1/aggregate?by=service&archive=true").json()
    got = {g["service"]: g["count"] for g in agg["groups"]}
    check_eq(got, {"fresh": 50, "recent": 40}, "counts including the archive")

    server.stop()
    server.start(port=server.port)
    check_eq(count(server, "recent", archive="true"), 40, "archive after a restart")
    check_eq(count(server, "fresh"), 50, "live data after a restart")

    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 4 * DAY))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 2 * DAY))
    r = server.post(f"/api/v1/archive/restore?start={start}&end={end}", "")
    check_eq(r.status, 200, f"restore: {r}")
    check(r.json()["restored"] >= 1, f"something restored: {r}")
    check_eq(count(server, "recent"), 40, "restored records are live")
    # The next maintenance round archives them again: they are still old.
    wait_for(lambda: count(server, "recent") == 0, "re-archiving")
    check(metric(server, "lode_store_segments") >= 1, "live segments counted")


if __name__ == "__main__":
    sys.exit(run_scenario(scenario, parse_args().lode,
                          "storage:\n  archive_after: 1d\n  retention: 30d\n"))
