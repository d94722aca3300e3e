"""End to end: Elasticsearch's bulk API, from the official client.

tests/clients/es_bulk.js (the @elastic/elasticsearch 8 client, installed by
scripts/setup.sh) checks GET / like every Elasticsearch client, then ships
documents with its bulk helper over several requests; every document must be
queryable, normalized like any JSON record (service.name, log.level,
host.name, @timestamp). Hand-written bulk bodies then check the per-item
answers: bad documents and unsupported actions fail alone, the rest stored.
"""
import json
import os
import subprocess
import sys
import time

from lodetest import (CLIENTS_DIR, SKIP, check, check_eq, npm_clients_missing, parse_args, run_tests,
                      wait_for_records)

CLIENTS = CLIENTS_DIR
NDJSON = {"Content-Type": "application/x-ndjson"}


def test_official_client_bulk_helper(s):
    out = subprocess.run(["node", os.path.join(CLIENTS, "es_bulk.js"), s.url, "60",
                          "logs-shipping"], capture_output=True, text=True, timeout=120)
    check_eq(out.returncode, 0, f"es_bulk.js: {out.stderr[-800:]}")
    stats = json.loads(out.stdout)
    check_eq((stats["total"], stats["successful"], stats["failed"]), (60, 60, 0), "helper stats")
    got = wait_for_records(s, 60, service="shipping")
    check_eq(len(got), 60, "every document")
    by_i = {int(r["message"].split()[1]): r for r in got}
    check_eq(sorted(by_i), list(range(60)), "each once")
    for i, r in by_i.items():
        check_eq(r["level"], "warn" if i % 4 == 0 else "info", "log.level")
        check_eq(r["instance"], "node-12", "host.name")
        check_eq(r["source"], "elasticsearch", "source")
        check_eq(r["attributes"].get("es.index"), "logs-shipping", "index kept")
        check_eq(r["attributes"].get("order.id"), str(i), "nested fields flattened")
        check(abs(int(r["timestamp_ns"]) / 1e9 - time.time()) < 120, "@timestamp")


def test_root_answers_like_elasticsearch(s):
    r = s.get("/")
    check_eq(r.status, 200, "GET /")
    check_eq(r.headers.get("X-Elastic-Product"), "Elasticsearch", "product header")
    check(r.json()["version"]["number"].startswith("8."), f"version: {r.json()}")


def test_per_item_answers(s):
    lines = [
        {"index": {"_index": "audit", "_id": "a1"}}, {"message": "user 1 login", "level": "info"},
        {"create": {}}, {"message": "user 2 login"},  # index from the path
        {"index": {}}, "{not json",
        {"delete": {"_id": "a1"}},
        {"update": {"_id": "a1"}}, {"doc": {"x": 1}},
        {"index": {}}, {"msg": "user 3 logout", "service": "auth"},
    ]
    body = "\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n"
    r = s.post("/audit-path/_bulk", body, NDJSON)
    check_eq(r.status, 200, f"bulk: {r}")
    check_eq(r.headers.get("X-Elastic-Product"), "Elasticsearch", "product header")
    answer = r.json()
    check_eq(answer["errors"], True, "errors flag")
    items = answer["items"]
    check_eq([list(i)[0] for i in items], ["index", "create", "index", "delete", "update", "index"],
             "one item per action, in order")
    check_eq([list(i.values())[0]["status"] for i in items], [201, 201, 400, 400, 400, 201],
             "statuses")
    check_eq(items[0]["index"]["_id"], "a1", "given id echoed")
    check_eq(items[1]["create"]["_index"], "audit-path", "index from the path")
    check("line 6" in items[2]["index"]["error"]["reason"], f"bad doc named: {items[2]}")
    check("append-only" in items[3]["delete"]["error"]["reason"], "delete refused")
    got = wait_for_records(s, 1, service="audit")
    check_eq([g["message"] for g in got], ["user 1 login"], "service from the index")
    got = wait_for_records(s, 1, service="auth")
    check_eq([g["message"] for g in got], ["user 3 logout"], "a document's own service wins")
    r = s.post("/_bulk", '{"index": {}}\n', NDJSON)
    check_eq(r.status, 400, "an action without its document")
    check("no document" in r.json()["error"]["reason"], f"says why: {r}")
    r = s.post("/api/v1/aggregate", "", {})
    check_eq(r.status, 405, "other paths are not taken for bulk")


def main():
    args = parse_args()
    missing = npm_clients_missing()
    if missing:
        print(f"SKIP: {missing}")
        return SKIP
    return run_tests([test_root_answers_like_elasticsearch, test_official_client_bulk_helper,
                      test_per_item_answers], args.lode)


if __name__ == "__main__":
    sys.exit(main())
