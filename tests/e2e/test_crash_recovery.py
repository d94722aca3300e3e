"""Crash safety: SIGKILL `lode serve` again and again while clients ingest,
restart it on the same data directory, and check that every record the server
acknowledged is there exactly once (and that nothing unacknowledged is
duplicated). The server flushes tiny segments constantly and merges them, so
the kills land during ingest, flush and merge.

Writers post small NDJSON batches of records with unique ids. A batch whose
request got a 200 answer is "acknowledged". After the last round the server is
restarted once more and every id is read back.
"""
import collections
import http.client
import json
import random
import sys
import threading
import time

from lodetest import check, check_eq, parse_args, run_scenario

BATCH = 20
MAX_IDS = 90000  # all are read back in one query (limit 100000)


def writer(port_ref, stop, next_id, lock, acked, attempted):
    conn = None
    while not stop.is_set():
        time.sleep(0.02)  # keep the total under the read-back limit
        with lock:
            if next_id[0] >= MAX_IDS:
                break
            first = next_id[0]
            next_id[0] += BATCH
        ids = list(range(first, first + BATCH))
        body = "\n".join(json.dumps({"message": f"crash-test id={i}", "service": "crash",
                                     "level": "info", "ts": 1731596464000 + i}) for i in ids)
        with lock:
            attempted.update(ids)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port_ref[0], timeout=10)
            conn.request("POST", "/api/v1/logs", body, {"Content-Type": "application/x-ndjson"})
            r = conn.getresponse()
            data = r.read()
            if r.status == 200 and json.loads(data)["accepted"] == BATCH:
                with lock:
                    acked.update(ids)
        except (OSError, http.client.HTTPException, ValueError):
            # The server died mid-request: this batch is not acknowledged and
            # is not retried (so any copy of it in the store would be a bug
            # only if it appeared twice).
            conn = None
            time.sleep(0.02)


def crash_loop(server, rounds):
    rng = random.Random(1234)
    acked, attempted = set(), set()
    port_ref = [server.port]
    stop = threading.Event()
    lock = threading.Lock()
    next_id = [0]
    threads = [threading.Thread(target=writer,
                                args=(port_ref, stop, next_id, lock, acked, attempted))
               for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for round_no in range(rounds):
            time.sleep(rng.uniform(0.1, 0.7))
            server.kill()
            with lock:
                n_acked = len(acked)
            print(f"round {round_no + 1}: killed with {n_acked} records acknowledged so far",
                  flush=True)
            server.start(port=server.port)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    # One clean restart more: recovery from a graceful stop works too.
    server.stop()
    server.start(port=server.port)

    metrics = server.get("/metrics").body
    print("\n".join(l for l in metrics.splitlines()
                    if l.startswith(("lode_store_flushes", "lode_store_merges",
                                     "lode_store_segments"))))
    got = server.logs(service="crash", limit=100000, direction="forward")
    ids = collections.Counter(int(r["message"].split("id=")[1]) for r in got["records"])
    check(len(got["records"]) < 100000, "result not truncated by the limit")
    dupes = [i for i, n in ids.items() if n > 1]
    missing = sorted(acked - set(ids))
    unknown = set(ids) - attempted
    print(f"acknowledged {len(acked)}, attempted {len(attempted)}, stored {len(ids)} ids "
          f"({sum(ids.values())} records)")
    check(len(acked) > 0, "some batches were acknowledged")
    check_eq(missing[:10], [], "acknowledged ids missing after the crashes")
    check_eq(dupes[:10], [], "ids stored more than once")
    check_eq(unknown, set(), "ids that were never sent")


if __name__ == "__main__":
    args = parse_args(lambda p: p.add_argument("--rounds", type=int, default=20))
    # Tiny heads: the kills land during flushes and merges too.
    sys.exit(run_scenario(lambda s: crash_loop(s, args.rounds), args.lode,
                          "storage:\n  flush_bytes: 256KiB\n  flush_age: 200ms\n"))
