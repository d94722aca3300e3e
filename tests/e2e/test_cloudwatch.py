"""End to end: CloudWatch Logs subscription payloads, as a forwarder (Lambda)
posts them to /api/v1/cloudwatch and as Firehose's HTTP endpoint delivery
posts them to /api/v1/firehose.

The payloads are built as AWS documents them (gzip of the subscription JSON,
base64 inside Firehose records); no AWS client runs offline, so this is the
closest to the wire we can get here.
"""
import base64
import gzip
import json
import re
import sys
import time

from lodetest import check, check_eq, parse_args, run_tests

T0_MS = int(time.time() * 1000) - 60_000


def payload(group, stream, messages, t0=T0_MS, kind="DATA_MESSAGE"):
    return json.dumps({
        "messageType": kind, "owner": "123456789012", "logGroup": group, "logStream": stream,
        "subscriptionFilters": ["to-lode"],
        "logEvents": [{"id": str(10**50 + i), "timestamp": t0 + i, "message": m}
                      for i, m in enumerate(messages)]})


def test_forwarder_posts_gzip_payload(s):
    body = gzip.compress(payload("/aws/lambda/checkout", "2024/11/14/[$LATEST]ab12",
                                 ["[ERROR] payment 42 declined\n", "payment 43 ok\n"]).encode())
    r = s.post("/api/v1/cloudwatch", body, {"Content-Type": "application/octet-stream"})
    check_eq(r.status, 200, f"forwarder post: {r}")
    check_eq(r.json(), {"accepted": 2, "rejected": 0}, "answer")
    got = s.logs(service="/aws/lambda/checkout", limit=10, direction="forward")["records"]
    check_eq([g["message"] for g in got], ["[ERROR] payment 42 declined", "payment 43 ok"],
             "messages, newline stripped")
    check_eq(got[0]["level"], "error", "level read from the message")
    check_eq(got[0]["instance"], "2024/11/14/[$LATEST]ab12", "logStream -> instance")
    check_eq(got[0]["source"], "cloudwatch", "source")
    check_eq(int(got[0]["timestamp_ns"]), T0_MS * 1_000_000, "timestamp (ms)")
    check_eq(got[0]["attributes"].get("cloudwatch.owner"), "123456789012", "owner")


def test_forwarder_bad_events_named_good_kept(s):
    doc = json.loads(payload("/aws/ecs/api", "task/1", ["kept line"]))
    doc["logEvents"].append({"id": "2", "message": "no timestamp here"})
    r = s.post("/api/v1/cloudwatch", json.dumps(doc), {"Content-Type": "application/json"})
    check_eq(r.status, 200, f"partial: {r}")
    check_eq(r.json()["accepted"], 1, "accepted")
    check_eq(r.json()["errors"], ['logEvents[1]: no "timestamp" (milliseconds since the epoch)'],
             "the bad event is named")
    r = s.post("/api/v1/cloudwatch", "{\"logEvents\": []}", {"Content-Type": "application/json"})
    check_eq(r.status, 400, "not a payload")
    check("logGroup" in r.json()["error"], f"error names what is missing: {r}")
    r = s.post("/api/v1/cloudwatch", payload("", "", [], kind="CONTROL_MESSAGE"), {})
    check_eq((r.status, r.json()), (200, {"accepted": 0, "rejected": 0}), "control message")


def test_firehose_delivery(s):
    good = [base64.b64encode(gzip.compress(payload(
        "/aws/lambda/billing", f"stream-{k}", [f"invoice {k}-{i} sent" for i in range(50)])
        .encode())).decode() for k in range(3)]
    body = json.dumps({"requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f",
                       "timestamp": T0_MS,
                       "records": [{"data": good[0]}, {"data": "%%% not base64"},
                                   {"data": good[1]}, {"data": good[2]}]})
    r = s.post("/api/v1/firehose", body,
               {"Content-Type": "application/json",
                "X-Amz-Firehose-Request-Id": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f"})
    check_eq(r.status, 200, f"firehose: {r}")
    answer = r.json()
    check_eq(answer["requestId"], "ed4acda5-034f-9f42-bba1-f29aea6d7d8f", "requestId echoed")
    check(isinstance(answer["timestamp"], int), f"timestamp in ms: {answer}")
    check("errorMessage" not in answer, "no error for a delivery whose good records are stored")
    got = s.logs(service="/aws/lambda/billing", limit=1000)["records"]
    check_eq(len(got), 150, "every event of the three good records")
    check_eq({g["instance"] for g in got}, {"stream-0", "stream-1", "stream-2"}, "streams")
    r = s.post("/api/v1/firehose", "not json", {"X-Amz-Firehose-Request-Id": "r2"})
    check_eq(r.status, 400, "not a delivery")
    check_eq(r.json()["requestId"], "r2", "requestId even in an error")
    check("records" in r.json()["errorMessage"], f"errorMessage says why: {r}")


def test_metrics_count_cloudwatch(s):
    text = s.get("/metrics").body
    m = re.search(r'^lode_ingest_accepted_records_total\{source="cloudwatch"\} (\d+)$', text, re.M)
    check(m is not None and int(m.group(1)) == 153, f"accepted cloudwatch records: {m and m.group(0)}")
    m = re.search(r'^lode_ingest_rejected_records_total\{source="cloudwatch"\} (\d+)$', text, re.M)
    check(m is not None and int(m.group(1)) >= 2, f"rejected cloudwatch records: {m and m.group(0)}")


def main():
    args = parse_args()
    return run_tests([test_forwarder_posts_gzip_payload, test_forwarder_bad_events_named_good_kept,
                      test_firehose_delivery, test_metrics_count_cloudwatch], args.lode)


if __name__ == "__main__":
    sys.exit(main())
