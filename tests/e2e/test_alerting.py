"""End to end: alert rules, notifiers and a real Alertmanager.

Starts a real Alertmanager (Debian's prometheus-alertmanager, clustering off,
its own storage, a route to a receiver that sends nowhere) on a loopback port,
a local webhook receiver that answers 500 to its first two POSTs and 200 after,
and `lode serve` with alerting on (notifiers: alertmanager, webhook, file,
console) and three rules: a threshold (errors per service > 5 in 1m), a
pattern (|= "card declined", resolve_after 3s) and an absence (3 s of silence
per heartbeat service).

Checks, each with polling and generous deadlines (30 s):
- the threshold and pattern alerts fire, with their labels and annotations,
  in GET /api/v1/alerts, in Alertmanager's own GET /api/v2/alerts (alertname,
  service, annotations, startsAt, generatorURL), at the webhook (after its two
  failures: retries with backoff, counted in /metrics) and in the file;
- the pattern alert resolves after 3 s without a match, in Lode, in
  Alertmanager (no longer active) and at the webhook and file ("resolved");
- a service that logged once and went silent fires the absence alert after
  3 s (not before), and resolves when it logs again;
- POST /api/v1/rules/reload with an invalid file is 400 naming file and line,
  the old rules stay; a valid file is 200 and adds a rule, keeping the firing
  alerts of unchanged rules without notifying; SIGHUP reloads too (a removed
  rule's alert is resolved, an invalid file on SIGHUP is refused and logged);
- SIGTERM while alerts fire and a restart on the same data directory do not
  notify those alerts again (states persisted in <data>/alerts.json), and the
  restarted server still notifies new alerts.

Skips (77) when /usr/bin/prometheus-alertmanager is not installed
(scripts/setup.sh installs it). Only loopback addresses are used.
"""
import datetime
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

from lodetest import (SKIP, CheckFailed, Server, check, check_eq, free_port, parse_args,
                      run_cases)

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
DEADLINE = 30  # seconds any awaited event may take
ZERO_TIME = "0001-01-01T00:00:00Z"

RULES = """\
rules:
  - name: ErrorBurst
    type: threshold
    query: '{level="error"}'
    by: [service]
    window: 1m
    condition: "> 5"
    for: 0s
    labels: {severity: page}
    annotations:
      summary: '{{ $labels.service }} logged {{ $value }} errors in 1m'
      runbook: 'https://runbooks.example/errors'
  - name: CardDeclined
    type: pattern
    query: '{service="billing"} |= "card declined"'
    resolve_after: 3s
    labels: {severity: ticket, team: payments}
    annotations: {summary: 'a card was declined'}
  - name: ServiceSilent
    type: absence
    query: '{service=~"heartbeat-.*"}'
    by: [service]
    for: 3s
    annotations: {summary: '{{ $labels.service }} is silent'}
"""
RULE_NAMES = ["ErrorBurst", "CardDeclined", "ServiceSilent"]

BROKEN_RULE = """\
  - name: Broken
    type: threshold
    query: '{level="warn"}'
    condition: "about 5"
"""

TIMEOUTS_RULE = """\
  - name: Timeouts
    type: threshold
    query: '{level="error"} |= "timeout"'
    by: [service]
    window: 5m
    condition: ">= 3"
"""

PANICS_RULE = """\
  - name: Panics
    type: pattern
    query: '{} |= "panic:"'
    resolve_after: 1m
"""

ALERTMANAGER_CONFIG = """\
route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: blackhole
"""


# --- small helpers ---------------------------------------------------------------------------

def wait_until(fn, what, timeout=DEADLINE, interval=0.1):
    """Polls fn() until it returns something truthy (returned), or fails after `timeout` s."""
    deadline = time.time() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.time() > deadline:
            raise CheckFailed(f"not within {timeout} s: {what} (last: {last!r})")
        time.sleep(interval)


def parse_time(text):
    """RFC 3339 (any number of fraction digits, Z or offset) to a timezone-aware datetime."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    check(m is not None, f"RFC 3339 time: {text!r}")
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def check_recent(text, what, within_s=600):
    t = parse_time(text)
    check(abs((now_utc() - t).total_seconds()) < within_s, f"{what}: {text} is about now")


def http_json(method, url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode())


def record(service, level, message):
    ts = now_utc().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"timestamp": ts, "service": service, "level": level, "message": message}


def post_records(s, records):
    body = "".join(json.dumps(r) + "\n" for r in records)
    r = s.post("/api/v1/logs", body, {"Content-Type": "application/x-ndjson"})
    check_eq(r.status, 200, f"POST /api/v1/logs: {r}")
    check_eq(r.json().get("accepted"), len(records), f"records accepted: {r}")


def find(alerts, rule, **labels):
    """The alerts (Lode's, Alertmanager's or notifications) of `rule` with `labels`."""
    return [a for a in alerts
            if a["labels"].get("alertname") == rule and
            all(a["labels"].get(k) == v for k, v in labels.items())]


# --- the webhook receiver --------------------------------------------------------------------

class Webhook:
    """An HTTP server on loopback recording every POST; answers 500 to the first
    `fail_first` POSTs and 200 to the others."""

    def __init__(self, fail_first=2):
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.attempts = []  # (HTTP status answered, path, parsed body or raw text)
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Lode's client expects

            def do_POST(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        raw += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with hook.lock:
                    status = 500 if len(hook.attempts) < hook.fail_first else 200
                    hook.attempts.append((status, self.path, body))
                reply = b'{"error":"try again"}' if status == 500 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.attempts)

    def delivered(self):
        """The alerts of every POST answered 200, in order."""
        out = []
        for status, _, body in self.snapshot():
            if status == 200 and isinstance(body, dict):
                out.extend(body.get("alerts", []))
        return out


# --- Alertmanager ----------------------------------------------------------------------------

class Alertmanager:
    def __init__(self, root):
        self.dir = os.path.join(root, "alertmanager")
        os.makedirs(os.path.join(self.dir, "data"))
        self.config = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config, "w") as f:
            f.write(ALERTMANAGER_CONFIG)
        self.log_path = os.path.join(self.dir, "alertmanager.log")
        self.port = None
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.port = free_port()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={self.config}",
             f"--storage.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address=", "--log.level=info"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"alertmanager not ready in {DEADLINE} s:\n{self.log()}")

    def alerts(self, query=""):
        return http_json("GET", self.url + "/api/v2/alerts" + query)

    def version(self):
        return http_json("GET", self.url + "/api/v2/status")["versionInfo"]["version"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""


# --- the scenario ----------------------------------------------------------------------------

class Env:
    """Everything the tests share: Alertmanager, the webhook, Lode and its files."""

    def __init__(self, lode):
        self.lode = lode
        self.root = tempfile.mkdtemp(prefix="lode-e2e-alerting-")
        self.data = os.path.join(self.root, "data")
        os.makedirs(self.data)
        self.rules_path = os.path.join(self.root, "rules.yaml")
        self.alerts_file = os.path.join(self.root, "alerts.jsonl")
        self.config_path = os.path.join(self.root, "lode.yaml")
        self.am = Alertmanager(self.root)
        self.hook = Webhook(fail_first=2)
        self.server = None
        self.marks = {}  # values tests hand to later tests

    def write_rules(self, text):
        tmp = self.rules_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.rules_path)

    def start(self):
        self.am.start()
        self.hook.start()
        self.write_rules(RULES)
        with open(self.config_path, "w") as f:
            f.write(f"""\
alerting:
  rules: {self.rules_path}
  notifiers:
    - {{type: alertmanager, url: "{self.am.url}", timeout: 5s}}
    - {{type: webhook, url: "{self.hook.url}", timeout: 2s}}
    - {{type: file, path: "{self.alerts_file}"}}
    - {{type: console}}
  repeat_interval: 4h
""")
        self.server = Server(self.lode, data_dir=self.data, extra_args=["--config", self.config_path])
        self.server.start()

    def file_lines(self):
        try:
            with open(self.alerts_file) as f:
                text = f.read()
        except FileNotFoundError:
            return []
        # A line being appended right now may be incomplete: only whole lines count.
        return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]

    def lode_alerts(self):
        r = self.server.get("/api/v1/alerts")
        check_eq(r.status, 200, f"GET /api/v1/alerts: {r}")
        return r.json()["alerts"]

    def lode_rules(self):
        r = self.server.get("/api/v1/rules")
        check_eq(r.status, 200, f"GET /api/v1/rules: {r}")
        return r.json()["rules"]

    def metric(self, name, notifier_type):
        text = self.server.get("/metrics").body
        m = re.search(rf'^{name}{{notifier="{notifier_type}:[^"]*"}} (\d+)$', text, re.M)
        check(m is not None, f"{name}{{notifier=\"{notifier_type}:...\"}} in /metrics")
        return int(m.group(1))

    def cleanup(self):
        if self.server:
            self.server.kill()
        self.am.stop()
        self.hook.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def firing_in_lode(env, rule, **labels):
    return [a for a in find(env.lode_alerts(), rule, **labels) if a["state"] == "firing"]


def notifications(items, rule, status, **labels):
    return [a for a in find(items, rule, **labels) if a["status"] == status]


def test_threshold_and_pattern_fire(env):
    s = env.server
    t0 = time.time()
    recs = [record("checkout", "error", f"payment backend unreachable ({i})") for i in range(8)]
    recs += [record("search", "error", f"index shard {i} missing") for i in range(7)]
    recs += [record("inventory", "error", f"stock sync failed ({i})") for i in range(3)]
    recs += [record("billing", "warn", "charge 17 failed: card declined by issuer")]
    recs += [record("billing", "info", "charge 18 accepted")]
    post_records(s, recs)

    (checkout,) = wait_until(lambda: firing_in_lode(env, "ErrorBurst", service="checkout"),
                             "ErrorBurst{service=checkout} firing in /api/v1/alerts")
    wait_until(lambda: firing_in_lode(env, "ErrorBurst", service="search"),
               "ErrorBurst{service=search} firing")
    (card,) = wait_until(lambda: firing_in_lode(env, "CardDeclined"), "CardDeclined firing")
    env.marks["fired_at"] = t0

    # Values, labels and annotations, once every record is counted.
    def checkout_value():
        (a,) = firing_in_lode(env, "ErrorBurst", service="checkout")
        return a if a["value"] == 8 else None
    checkout = wait_until(checkout_value, "ErrorBurst{service=checkout} value 8")
    check_eq(checkout["labels"], {"alertname": "ErrorBurst", "service": "checkout",
                                  "severity": "page"}, "threshold alert labels")
    check_eq(checkout["annotations"], {"summary": "checkout logged 8 errors in 1m",
                                       "runbook": "https://runbooks.example/errors"},
             "threshold alert annotations (templates expanded)")
    check_eq(checkout["rule"], "ErrorBurst", "rule")
    check_recent(checkout["activeAt"], "activeAt")
    check_eq(card["labels"], {"alertname": "CardDeclined", "severity": "ticket",
                              "team": "payments"}, "pattern alert labels")
    check_eq(card["annotations"], {"summary": "a card was declined"}, "pattern alert annotations")
    check_eq(card.get("sample"), "charge 17 failed: card declined by issuer", "pattern sample")
    # 3 errors is not > 5: no alert for inventory, pending or firing.
    check_eq(find(env.lode_alerts(), "ErrorBurst", service="inventory"), [],
             "no alert for a service under the threshold")

    rules = {r["name"]: r for r in env.lode_rules()}
    check_eq(sorted(rules), sorted(RULE_NAMES), "rules listed")
    check_eq(rules["ErrorBurst"]["firing"], 2, "ErrorBurst firing groups")
    check_eq(rules["ErrorBurst"]["condition"], "> 5", "condition")
    check_eq(rules["CardDeclined"]["firing"], 1, "CardDeclined firing groups")

    log = wait_until(lambda: "FIRING ErrorBurst" in s.log() and s.log(), "console notifier line")
    check("FIRING CardDeclined" in log, "console notifier: CardDeclined line")


def test_alertmanager_received_the_alerts(env):
    def am_has_all():
        got = env.am.alerts()
        if (find(got, "ErrorBurst", service="checkout") and
                find(got, "ErrorBurst", service="search") and find(got, "CardDeclined")):
            return got
        return None
    got = wait_until(am_has_all, "Alertmanager lists ErrorBurst x2 and CardDeclined")
    check_eq(find(got, "ErrorBurst", service="inventory"), [], "no inventory alert in Alertmanager")
    lode_url = env.server.url
    for a in find(got, "ErrorBurst") + find(got, "CardDeclined"):
        name = a["labels"]["alertname"]
        check_eq(a["status"]["state"], "active", f"{name}: state in Alertmanager")
        check(a.get("startsAt") and not a["startsAt"].startswith("0001"),
              f"{name}: startsAt set: {a.get('startsAt')}")
        check_recent(a["startsAt"], f"{name}: startsAt")
        check(a.get("generatorURL"), f"{name}: generatorURL non-empty: {a}")
        check(a["generatorURL"].startswith(lode_url + "/loki/api/v1/query_range?query="),
              f"{name}: generatorURL links to Lode's query: {a['generatorURL']}")
        check(parse_time(a["endsAt"]) > now_utc(),
              f"{name}: a firing alert ends in the future: {a['endsAt']}")
    (checkout,) = find(got, "ErrorBurst", service="checkout")
    check_eq(checkout["labels"], {"alertname": "ErrorBurst", "service": "checkout",
                                  "severity": "page"}, "Alertmanager: threshold labels")
    check(re.fullmatch(r"checkout logged \d+ errors in 1m", checkout["annotations"]["summary"]),
          f"Alertmanager: summary annotation: {checkout['annotations']}")
    check_eq(checkout["annotations"].get("runbook"), "https://runbooks.example/errors", "runbook")
    check("%7Blevel%3D%22error%22%7D" in checkout["generatorURL"],
          f"generatorURL carries the rule's query: {checkout['generatorURL']}")
    (card,) = find(got, "CardDeclined")
    check_eq(card["labels"], {"alertname": "CardDeclined", "severity": "ticket",
                              "team": "payments"}, "Alertmanager: pattern labels")
    check_eq(card["annotations"].get("summary"), "a card was declined", "pattern summary")
    check_eq(card["annotations"].get("sample"), "charge 17 failed: card declined by issuer",
             "the matched line as the sample annotation")
    check_eq([r["name"] for r in card["receivers"]], ["blackhole"], "routed to the receiver")
    check(env.metric("lode_notifications_sent_total", "alertmanager") >= 2,
          "alertmanager notifications counted as sent")


def test_webhook_retried_after_failures(env):
    def delivered_all():
        got = env.hook.delivered()
        if (notifications(got, "ErrorBurst", "firing", service="checkout") and
                notifications(got, "ErrorBurst", "firing", service="search") and
                notifications(got, "CardDeclined", "firing")):
            return got
        return None
    got = wait_until(delivered_all, "the webhook received the firing alerts")
    attempts = env.hook.snapshot()
    check_eq([a[0] for a in attempts[:3]], [500, 500, 200],
             "answers: two failures, then the retry got through")
    check_eq({a[1] for a in attempts}, {"/hook"}, "POSTed to the configured path")
    first_failed = attempts[0][2]
    check(isinstance(first_failed, dict) and first_failed.get("alerts"),
          f"the failed POSTs carried alerts: {first_failed!r}")
    # The retried body is the same batch: what failed was delivered after all.
    failed_fps = {a["fingerprint"] for a in first_failed["alerts"]}
    check(failed_fps <= {a["fingerprint"] for a in got},
          "the alerts of the failed POSTs were delivered by a retry")
    for body in (a[2] for a in attempts if a[0] == 200):
        check_eq(body.get("version"), "1", "webhook body version")
        check_eq(body.get("status"), body["alerts"][0]["status"], "top-level status")
    (checkout,) = notifications(got, "ErrorBurst", "firing", service="checkout")
    check_eq(checkout["rule"], "ErrorBurst", "rule")
    check_eq(checkout["labels"]["severity"], "page", "labels")
    check(checkout["value"] > 5, f"value over the threshold: {checkout['value']}")
    check_eq(checkout["endsAt"], ZERO_TIME, "a firing alert's endsAt is Go's zero time")
    check_recent(checkout["startsAt"], "startsAt")
    check(checkout["generatorURL"].startswith(env.server.url), "generatorURL")
    check(re.fullmatch(r"[0-9a-f]+", checkout["fingerprint"]), "fingerprint is hex")
    check(env.metric("lode_notification_failed_attempts_total", "webhook") >= 2,
          "lode_notification_failed_attempts_total{notifier=webhook} >= 2")
    wait_until(lambda: env.metric("lode_notifications_sent_total", "webhook") >= 3,
               "lode_notifications_sent_total{notifier=webhook} >= 3")
    check_eq(env.metric("lode_notifications_given_up_total", "webhook"), 0, "nothing given up")


def test_file_notifier_lines(env):
    def all_firing():
        lines = env.file_lines()
        if (notifications(lines, "ErrorBurst", "firing", service="checkout") and
                notifications(lines, "ErrorBurst", "firing", service="search") and
                notifications(lines, "CardDeclined", "firing")):
            return lines
        return None
    lines = wait_until(all_firing, "the file notifier wrote the firing alerts")
    (card,) = notifications(lines, "CardDeclined", "firing")
    check_eq(card["sample"], "charge 17 failed: card declined by issuer", "sample in the file")
    check_eq(card["annotations"], {"summary": "a card was declined"}, "annotations in the file")
    check_eq(card["endsAt"], ZERO_TIME, "endsAt of a firing alert")
    for key in ("status", "rule", "labels", "annotations", "value", "startsAt", "endsAt",
                "generatorURL", "sample", "fingerprint"):
        check(key in card, f"file line has {key}: {card}")


def test_pattern_alert_resolves(env):
    wait_until(lambda: not find(env.lode_alerts(), "CardDeclined"),
               "CardDeclined gone from /api/v1/alerts (resolve_after 3s)")
    resolved_at = time.time()

    (line,) = wait_until(lambda: notifications(env.file_lines(), "CardDeclined", "resolved"),
                         "resolved CardDeclined in the file")
    check(line["endsAt"] != ZERO_TIME, f"resolved endsAt set: {line['endsAt']}")
    check_recent(line["endsAt"], "resolved endsAt")
    check(parse_time(line["endsAt"]) >= parse_time(line["startsAt"]), "endsAt after startsAt")
    (firing,) = notifications(env.file_lines(), "CardDeclined", "firing")
    check_eq(line["fingerprint"], firing["fingerprint"], "same fingerprint as the firing one")

    (hooked,) = wait_until(lambda: notifications(env.hook.delivered(), "CardDeclined", "resolved"),
                           "resolved CardDeclined at the webhook")
    check(hooked["endsAt"] != ZERO_TIME, "webhook: resolved endsAt set")
    bodies = [a[2] for a in env.hook.snapshot() if a[0] == 200]
    check(any(b.get("status") == "resolved" for b in bodies),
          "a webhook POST with status \"resolved\"")

    def resolved_in_am():
        active = find(env.am.alerts("?active=true"), "CardDeclined")
        still = [a for a in active
                 if a["status"]["state"] == "active" and parse_time(a["endsAt"]) > now_utc()]
        return not still
    wait_until(resolved_in_am, "CardDeclined no longer active in Alertmanager")
    # The threshold alerts still firing in Lode are still active there.
    got = env.am.alerts()
    for a in firing_in_lode(env, "ErrorBurst"):
        service = a["labels"]["service"]
        check([x for x in find(got, "ErrorBurst", service=service)
               if x["status"]["state"] == "active"],
              f"ErrorBurst{{{service}}} still active in Alertmanager")
    # Nothing matched since, so the pattern rule does not fire again.
    time.sleep(1.5)
    check_eq(len(notifications(env.file_lines(), "CardDeclined", "firing")), 1,
             "CardDeclined fired once")
    env.marks["resolved_at"] = resolved_at


def test_absence_of_a_silent_service(env):
    t0 = time.time()
    post_records(env.server, [record("heartbeat-1", "info", "tick")])
    (a,) = wait_until(lambda: firing_in_lode(env, "ServiceSilent", service="heartbeat-1"),
                      "ServiceSilent{service=heartbeat-1} firing")
    waited = time.time() - t0
    check(waited >= 2.9, f"the absence alert fired after 3 s of silence, not {waited:.2f} s")
    check(a["value"] >= 3, f"value is the seconds of silence: {a['value']}")
    check_eq(a["annotations"], {"summary": "heartbeat-1 is silent"}, "annotations")
    check_eq(a["labels"], {"alertname": "ServiceSilent", "service": "heartbeat-1"}, "labels")
    wait_until(lambda: notifications(env.file_lines(), "ServiceSilent", "firing",
                                     service="heartbeat-1"), "ServiceSilent firing in the file")
    wait_until(lambda: find(env.am.alerts(), "ServiceSilent", service="heartbeat-1"),
               "ServiceSilent in Alertmanager")
    # It logs again: resolved; then silent again: fires again.
    post_records(env.server, [record("heartbeat-1", "info", "tick")])
    wait_until(lambda: notifications(env.file_lines(), "ServiceSilent", "resolved",
                                     service="heartbeat-1"), "ServiceSilent resolved when it logs")
    wait_until(lambda: len(notifications(env.file_lines(), "ServiceSilent", "firing",
                                         service="heartbeat-1")) >= 2,
               "ServiceSilent fires again after another 3 s of silence")
    check_eq(find(env.lode_alerts(), "ServiceSilent", service="heartbeat-2"), [],
             "no alert for a service that never logged")


def test_reload_invalid_file_keeps_old_rules(env):
    # A fresh threshold alert, firing through the reloads (1m window).
    post_records(env.server, [record("orders", "error", f"order {i} lost") for i in range(6)])
    wait_until(lambda: notifications(env.file_lines(), "ErrorBurst", "firing", service="orders"),
               "ErrorBurst{orders} firing in the file")
    lines_before = len(env.file_lines())
    text = RULES + BROKEN_RULE
    broken_line = RULES.count("\n") + 1  # the "- name: Broken" line, 1-based
    env.write_rules(text)
    r = env.server.post("/api/v1/rules/reload", "")
    check_eq(r.status, 400, f"reload of an invalid file: {r}")
    err = r.json().get("error", "")
    check(f"{env.rules_path}:{broken_line}" in err,
          f"the error names the file and line {broken_line}: {err}")
    check("Broken" in err and "condition" in err, f"the error names the rule and key: {err}")
    check_eq([x["name"] for x in env.lode_rules()], RULE_NAMES, "the old rules stay")
    check(firing_in_lode(env, "ErrorBurst", service="orders"), "alerts keep firing")
    # A file that is not YAML at all.
    env.write_rules("rules:\n  - name: [unclosed\n")
    r = env.server.post("/api/v1/rules/reload", "")
    check_eq(r.status, 400, f"reload of a file that does not parse: {r}")
    check(env.rules_path + ":" in r.json().get("error", ""), f"names the file: {r}")
    check_eq([x["name"] for x in env.lode_rules()], RULE_NAMES, "the old rules still stay")
    check_eq(find(env.file_lines()[lines_before:], "ErrorBurst", service="orders"), [],
             "a refused reload notifies nothing")


def test_reload_valid_file_adds_a_rule(env):
    lines_before = len(env.file_lines())
    env.write_rules(RULES + TIMEOUTS_RULE)
    r = env.server.post("/api/v1/rules/reload", "")
    check_eq(r.status, 200, f"reload of a valid file: {r}")
    check_eq(r.json(), {"status": "success", "rules": 4}, "reload answer")
    rules = {x["name"]: x for x in env.lode_rules()}
    check_eq(sorted(rules), sorted(RULE_NAMES + ["Timeouts"]), "the new rule is listed")
    check_eq(rules["Timeouts"]["condition"], ">= 3", "new rule's condition")
    check_eq(rules["Timeouts"]["window_seconds"], 300, "new rule's window")
    # Unchanged rules keep their states: still firing, and not notified again or resolved.
    check(rules["ErrorBurst"]["firing"] >= 1, "ErrorBurst keeps its firing groups")
    check(firing_in_lode(env, "ErrorBurst", service="orders"), "ErrorBurst{orders} firing")
    time.sleep(1.5)
    new = env.file_lines()[lines_before:]
    check_eq(find(new, "ErrorBurst", service="orders"), [],
             f"no notification for the unchanged rule: {new}")
    # The new rule works.
    post_records(env.server, [record("gateway", "error", f"upstream timeout {i}") for i in range(3)])
    wait_until(lambda: firing_in_lode(env, "Timeouts", service="gateway"), "Timeouts fires")


def test_sighup_reloads(env):
    # Timeouts (firing for gateway) removed, Panics added.
    env.write_rules(RULES + PANICS_RULE)
    env.server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "Panics" in [x["name"] for x in env.lode_rules()],
               "the rule added before SIGHUP is listed")
    check_eq([x["name"] for x in env.lode_rules()], RULE_NAMES + ["Panics"],
             "the rules after SIGHUP")
    wait_until(lambda: notifications(env.file_lines(), "Timeouts", "resolved", service="gateway"),
               "the alert of the removed rule is resolved")
    check(firing_in_lode(env, "ErrorBurst", service="orders"), "unchanged rules keep firing")
    # An invalid file on SIGHUP: refused, the server goes on with the old rules.
    env.write_rules(RULES + BROKEN_RULE)
    env.server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP" in env.server.log() and "Broken" in env.server.log(),
               "the refused SIGHUP reload is logged")
    check(env.server.proc.poll() is None, "the server still runs")
    check_eq([x["name"] for x in env.lode_rules()], RULE_NAMES + ["Panics"],
             "the rules of the last good file stay")
    env.write_rules(RULES + PANICS_RULE)


def test_restart_does_not_notify_again(env):
    s = env.server
    post_records(s, [record("payments", "error", f"ledger write failed ({i})") for i in range(6)])
    wait_until(lambda: notifications(env.hook.delivered(), "ErrorBurst", "firing",
                                     service="payments"), "ErrorBurst{payments} at the webhook")
    wait_until(lambda: notifications(env.file_lines(), "ErrorBurst", "firing",
                                     service="payments"), "ErrorBurst{payments} in the file")
    wait_until(lambda: find(env.am.alerts(), "ErrorBurst", service="payments"),
               "ErrorBurst{payments} in Alertmanager")
    # Let the notifications of the other firing alerts settle before stopping.
    time.sleep(1)
    (before,) = firing_in_lode(env, "ErrorBurst", service="payments")
    hook_before = len(env.hook.delivered())
    file_before = len(env.file_lines())

    s.stop()  # SIGTERM
    with open(os.path.join(env.data, "alerts.json")) as f:
        saved = json.load(f)
    check(any(a["rule"] == "ErrorBurst" and a["values"] == ["payments"] for a in saved["firing"]),
          f"alerts.json holds the firing ErrorBurst{{payments}}: {saved}")

    env.server = Server(env.lode, data_dir=env.data, extra_args=["--config", env.config_path])
    env.server.start(port=s.port)
    check("restored" in env.server.log(), "the restart logs the restored alerts")
    (after,) = wait_until(lambda: firing_in_lode(env, "ErrorBurst", service="payments"),
                          "ErrorBurst{payments} firing again after the restart (restored)")
    check_eq(after["activeAt"], before["activeAt"], "activeAt kept across the restart")
    # Every rule here groups by service (or not at all).
    saved_set = {(a["rule"], tuple(a["values"])) for a in saved["firing"]}
    restored = {(a["rule"], (a["labels"]["service"],) if "service" in a["labels"] else ())
                for a in env.lode_alerts() if a["state"] == "firing"}
    check(saved_set <= restored, f"every saved alert is firing again: "
          f"{sorted(saved_set - restored)} missing")
    # The incident goes on: more errors keep the condition true. A restored alert is
    # firing already, so this must not page again (a forgotten state would fire anew).
    post_records(env.server,
                 [record("payments", "error", f"ledger write failed again ({i})") for i in range(6)])
    wait_until(lambda: [r for r in env.lode_rules() if r["name"] == "ErrorBurst" and
                        r["matched"] >= 6], "the new errors are counted after the restart")
    # Several evaluation rounds (every 0.5 s) later: no new firing notification anywhere.
    time.sleep(5)
    new_hook = env.hook.delivered()[hook_before:]
    new_file = env.file_lines()[file_before:]
    check_eq([(a["rule"], a["labels"]) for a in new_hook if a["status"] == "firing"], [],
             "no firing notification at the webhook after the restart")
    check_eq([(a["rule"], a["labels"]) for a in new_file if a["status"] == "firing"], [],
             "no firing notification in the file after the restart")
    # And the restarted server does notify what is new.
    post_records(env.server, [record("billing", "warn", "charge 99: card declined again")])
    wait_until(lambda: notifications(env.hook.delivered()[hook_before:], "CardDeclined", "firing"),
               "a new CardDeclined reaches the webhook after the restart")
    wait_until(lambda: find(env.am.alerts(), "CardDeclined"),
               "a new CardDeclined reaches Alertmanager after the restart")


def test_without_rules(env):
    # A server without a rules file: empty lists that say so, and a reload refused.
    s = Server(env.lode).start()
    try:
        check_eq(s.get("/api/v1/rules").json(), {"enabled": False, "rules": []}, "rules")
        check_eq(s.get("/api/v1/alerts").json(), {"enabled": False, "alerts": []}, "alerts")
        r = s.request("POST", "/api/v1/rules/reload")
        check_eq(r.status, 400, f"reload without rules: {r}")
        check("no rules file" in r.json()["error"], f"the reload error says why: {r}")
        check_eq(env.lode_rules() != [], True, "the server with rules lists them")
    finally:
        s.cleanup()


TESTS = [
    test_without_rules,
    test_threshold_and_pattern_fire,
    test_alertmanager_received_the_alerts,
    test_webhook_retried_after_failures,
    test_file_notifier_lines,
    test_pattern_alert_resolves,
    test_absence_of_a_silent_service,
    test_reload_invalid_file_keeps_old_rules,
    test_reload_valid_file_adds_a_rule,
    test_sighup_reloads,
    test_restart_does_not_notify_again,
]


def main():
    args = parse_args()
    if not os.access(ALERTMANAGER, os.X_OK):
        print(f"SKIP: {ALERTMANAGER} is not installed "
              "(scripts/setup.sh installs the prometheus-alertmanager package)")
        return SKIP
    env = Env(os.path.abspath(args.lode))
    try:
        try:
            env.start()
            print(f"alertmanager {env.am.version()} on {env.am.url}, webhook on {env.hook.url}, "
                  f"lode on {env.server.url}", flush=True)
        except Exception:
            traceback.print_exc()
            print("--- alertmanager log (tail) ---\n" + env.am.log())
            if env.server:
                print("--- server log (tail) ---\n" + env.server.log())
            print("0 passed, 1 failed")
            return 1
        passed, failed = run_cases(
            TESTS, lambda t: t(env),
            hopeless=lambda: env.server.proc is None or env.server.proc.poll() is not None)
        if failed:
            print("--- server log (tail) ---\n" + env.server.log())
            print("--- alertmanager log (tail) ---\n" + env.am.log())
            print("--- webhook attempts ---")
            for status, path, body in env.hook.snapshot():
                print(status, path, json.dumps(body)[:400])
    finally:
        env.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
