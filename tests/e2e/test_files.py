"""End to end: log files, tailed by `lode agent` and by `lode serve` itself.

Agent scenario: a directory laid out like a node's /var/log/pods, written the
way kubelet and containerd write it (CRI lines, long lines split into P
pieces, stack traces over several lines, stdout and stderr interleaved), is
tailed by `lode agent` while:
  - a file is rotated by rename, while the agent is down (killed with SIGKILL);
  - the agent is killed with SIGKILL again right after new lines, and restarted;
  - the server is stopped for a while (the agent spools and retries);
  - a file is rotated by copytruncate.
At the end every line written is queryable exactly once, with the service
(the pod's owner), instance (the pod), namespace/pod/container, level,
timestamp and stream its path and line give; stack traces are one record and
split lines are whole again.

Serve scenario: `lode serve` tails a plain-text file itself (config
`files:`), with multi-line joining, and is killed (SIGKILL) and restarted
mid-way: again every entry arrives exactly once. With ../shared/data, the
real CRI and Docker samples are read too.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from lodetest import Server, check, check_eq, parse_args

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                      "data", "formats")
BASE_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z

# (namespace, pod, uid, container, expected service)
PODS = [
    ("prod", "checkout-7d9f8b6c5-x2x9k", "0f1e2d3c-aaaa-4bbb-8ccc-000000000001", "checkout",
     "checkout"),
    ("prod", "cart-5c6f7d8b9-b2c4d", "0f1e2d3c-aaaa-4bbb-8ccc-000000000002", "cart", "cart"),
    ("payments", "ledger-0", "0f1e2d3c-aaaa-4bbb-8ccc-000000000003", "ledger", "ledger"),
    ("infra", "node-exporter-q7k9z", "0f1e2d3c-aaaa-4bbb-8ccc-000000000004", "exporter",
     "node-exporter"),
]


def rfc3339(ns):
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


class PodLogs:
    """Writes CRI container logs under root/<ns>_<pod>_<uid>/<container>/0.log
    and remembers what each entry should become."""

    def __init__(self, root):
        self.root = root
        self.expected = {}  # seq id → dict of expected fields
        self.next = {p[1]: 0 for p in PODS}
        for ns, pod, uid, container, _ in PODS:
            os.makedirs(self.dir(pod), exist_ok=True)

    def dir(self, pod):
        ns, _, uid, container, _ = next(p for p in PODS if p[1] == pod)
        return os.path.join(self.root, f"{ns}_{pod}_{uid}", container)

    def path(self, pod):
        return os.path.join(self.dir(pod), "0.log")

    def write(self, per_pod):
        for ns, pod, uid, container, service in PODS:
            out = []
            for _ in range(per_pod):
                k = self.next[pod]
                self.next[pod] += 1
                seq = f"{pod}:{k}"
                ts = BASE_NS + k * 1_000_000 + PODS.index(
                    (ns, pod, uid, container, service)) * 1000
                kind = k % 10
                if kind == 3:  # an exception with its stack trace, on stderr
                    text = [f"ERROR payment failed seq={seq}",
                            "java.lang.IllegalStateException: card declined",
                            "\tat com.acme.Pay.charge(Pay.java:42)",
                            "\tat com.acme.Api.handle(Api.java:7)"]
                    for line in text:
                        out.append(f"{rfc3339(ts)} stderr F {line}\n")
                    self.expected[seq] = dict(level="error", stream="stderr", ts=ts,
                                              message="\n".join(text))
                elif kind == 7:  # a long line the runtime split into pieces
                    msg = f"WARN slow request seq={seq} " + "x" * 40000
                    pieces = [msg[i:i + 16384] for i in range(0, len(msg), 16384)]
                    for i, piece in enumerate(pieces):
                        tag = "F" if i == len(pieces) - 1 else "P"
                        out.append(f"{rfc3339(ts)} stdout {tag} {piece}\n")
                    self.expected[seq] = dict(level="warn", stream="stdout", ts=ts, message=msg)
                else:
                    msg = f"INFO GET /api/items/{k} 200 seq={seq}"
                    out.append(f"{rfc3339(ts)} stdout F {msg}\n")
                    self.expected[seq] = dict(level="info", stream="stdout", ts=ts, message=msg)
                self.expected[seq].update(namespace=ns, pod=pod, container=container,
                                          service=service)
            with open(self.path(pod), "a") as f:
                f.write("".join(out))

    def rotate_rename(self, pod):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        os.rename(self.path(pod), self.path(pod) + "." + stamp)
        open(self.path(pod), "w").close()

    def rotate_copytruncate(self, pod):
        shutil.copyfile(self.path(pod), self.path(pod) + ".1")
        with open(self.path(pod), "r+") as f:
            f.truncate(0)


class Agent:
    def __init__(self, lode, url, root, state_dir, tenant):
        self.args = [lode, "agent", "--url", url, "--path", os.path.join(root, "*/*/*.log"),
                     "--multiline-start", r"^(DEBUG|INFO|WARN|ERROR|FATAL) ", "--state-dir", state_dir, "--tenant", tenant,
                     "--poll-interval", "100ms", "--batch-records", "200", "--log-level", "info"]
        self.log_path = os.path.join(state_dir + ".log")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=open(self.log_path, "ab"),
                                     stderr=subprocess.STDOUT)
        return self

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        check_eq(self.proc.wait(timeout=30), 0, "lode agent exit code after SIGTERM")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]


def all_records(server, tenant):
    r = server.logs(headers={"X-Scope-OrgID": tenant}, limit=100000, start="2000-01-01T00:00:00Z")
    return r["records"]


def seq_of(rec):
    m = re.search(r"seq=(\S+)", rec["message"])
    return m.group(1) if m else None


def wait_for_count(server, tenant, want, timeout=60):
    deadline = time.time() + timeout
    while True:
        recs = all_records(server, tenant)
        if len(recs) >= want or time.time() > deadline:
            return recs
        time.sleep(0.25)


def wait_for_pod(server, tenant, pods, pod, timeout=30):
    want = {s for s in pods.expected if s.startswith(pod + ":")}
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = {seq_of(r) for r in all_records(server, tenant)}
        if want <= got:
            return
        time.sleep(0.2)
    raise AssertionError(f"{pod}: {len(want - got)} entries still missing after {timeout}s")


def check_exactly_once(recs, expected):
    seqs = [seq_of(r) for r in recs]
    if None in seqs:
        raise AssertionError(f"a record without seq: {recs[seqs.index(None)]}")
    dups = {s for s in seqs if seqs.count(s) > 1} if len(seqs) != len(set(seqs)) else set()
    check(not dups, f"{len(dups)} entries stored twice, e.g. {sorted(dups)[:5]}")
    missing = set(expected) - set(seqs)
    check(not missing, f"{len(missing)} entries missing, e.g. {sorted(missing)[:5]}")
    check_eq(len(recs), len(expected), "records stored")


def scenario_agent(lode, work):
    tenant = "agent"
    root = os.path.join(work, "pods")
    pods = PodLogs(root)
    os.makedirs(os.path.join(work, "data"))
    server = Server(lode, data_dir=os.path.join(work, "data"))
    server.start()
    port = server.port
    agent = Agent(lode, server.url, root, os.path.join(work, "agent-state"), tenant).start()
    try:
        pods.write(120)
        # Once the agent follows every file (a file renamed away before the
        # agent ever saw it is not under the glob any more: nobody reads it)...
        deadline = time.time() + 30
        while len({r["service"] for r in all_records(server, tenant)}) < len(PODS):
            check(time.time() < deadline, "the agent did not ship from every pod in 30 s")
            time.sleep(0.1)
        # 1. ...it is killed mid-way, and a file is rotated by rename while it is down.
        agent.kill()
        pods.write(40)
        pods.rotate_rename("checkout-7d9f8b6c5-x2x9k")
        pods.write(40)
        agent.start()
        # 2. Killed right after new lines, likely mid-batch.
        pods.write(60)
        time.sleep(0.15)
        agent.kill()
        agent.start()
        # 3. The server goes away: the agent spools and retries.
        pods.write(30)
        time.sleep(0.5)
        server.stop()
        pods.write(60)
        time.sleep(1.5)
        server.start(port=port)
        # 4. Rotation by copytruncate (once the agent has read the file).
        wait_for_pod(server, tenant, pods, "cart-5c6f7d8b9-b2c4d")
        pods.rotate_copytruncate("cart-5c6f7d8b9-b2c4d")
        time.sleep(1.5)  # the agent notices the truncation
        pods.write(50)

        recs = wait_for_count(server, tenant, len(pods.expected))
        time.sleep(1.5)  # anything repeated would arrive now
        recs = all_records(server, tenant)
        check_exactly_once(recs, pods.expected)

        by_seq = {seq_of(r): r for r in recs}
        for seq, want in pods.expected.items():
            r = by_seq[seq]
            check_eq(r["message"], want["message"], f"{seq} message")
            check_eq(r["service"], want["service"], f"{seq} service")
            check_eq(r["instance"], want["pod"], f"{seq} instance")
            check_eq(r["level"], want["level"], f"{seq} level")
            check_eq(int(r["timestamp_ns"]), want["ts"], f"{seq} timestamp")
            check_eq(r["source"], "k8s", f"{seq} source")
            a = r["attributes"]
            check_eq((a.get("namespace"), a.get("pod"), a.get("container"), a.get("stream")),
                     (want["namespace"], want["pod"], want["container"], want["stream"]),
                     f"{seq} namespace/pod/container/stream")
        # The stack traces are whole records, queryable by LogQL.
        r = server.get("/loki/api/v1/query_range?" + __import__("urllib.parse").parse.urlencode({
            "query": '{service="checkout"} |= "IllegalStateException" | namespace="prod"',
            "start": str(BASE_NS - 1), "end": str(BASE_NS + 10**12), "limit": "1000"}),
            headers={"X-Scope-OrgID": tenant})
        check_eq(r.status, 200, "LogQL on file records")
        lines = [v for s in r.json()["data"]["result"] for v in s["values"]]
        want = sum(1 for s, e in pods.expected.items()
                   if e["service"] == "checkout" and "IllegalStateException" in e["message"])
        check_eq(len(lines), want, "checkout stack traces found by LogQL")
        agent.stop()
        print(f"agent: {len(recs)} entries from {len(PODS)} pods, exactly once, through two "
              "SIGKILLs, a server restart, rename and copytruncate rotation")
    except Exception:
        print("--- agent log ---\n" + agent.log())
        print("--- server log ---\n" + server.log())
        raise
    finally:
        if agent.proc.poll() is None:
            agent.kill()
        server.kill()


def scenario_serve(lode, work):
    logs = os.path.join(work, "applogs")
    os.makedirs(logs)
    app = os.path.join(logs, "billing.log")
    expected = []

    def write(n):
        with open(app, "a") as f:
            for _ in range(n):
                k = len(expected)
                if k % 5 == 0:
                    entry = (f"2026-01-01 00:00:{k % 60:02d} ERROR charge failed seq=b{k}\n"
                             "Traceback (most recent call last):\n"
                             '  File "billing.py", line 12, in charge\n'
                             "ValueError: amount")
                else:
                    entry = f"2026-01-01 00:00:{k % 60:02d} INFO charged seq=b{k}"
                expected.append(entry)
                f.write(entry + "\n")

    inputs = [f"""    - paths: ["{logs}/*.log"]
      service: billing
      labels: {{env: test}}
      multiline:
        start: '^\\d{{4}}-'
        timeout: 300ms"""]
    samples = os.path.isdir(SHARED)
    if samples:
        pods = os.path.join(work, "samples", "prod_web-6b7c8d9f5-z9x8w_uid-1", "web")
        os.makedirs(pods)
        shutil.copy(os.path.join(SHARED, "cri.log"), os.path.join(pods, "0.log"))
        docker = os.path.join(work, "samples", "docker")
        os.makedirs(docker)
        shutil.copy(os.path.join(SHARED, "docker-json.log"), os.path.join(docker, "c1-json.log"))
        inputs.append(f"""    - paths: ["{work}/samples/*/*/*.log"]
      multiline: {{start: '^\\S'}}""")
        inputs.append(f"""    - paths: ["{docker}/*-json.log"]
      service: beats""")
    else:
        print("serve: ../shared/data/formats not found; the real CRI/Docker samples are skipped")
    config = os.path.join(work, "serve.yaml")
    with open(config, "w") as f:
        f.write("files:\n  poll_interval: 100ms\n  tenant: files\n  inputs:\n" +
                "\n".join(inputs) + "\n")
    os.makedirs(os.path.join(work, "serve-data"))
    server = Server(lode, data_dir=os.path.join(work, "serve-data"),
                    extra_args=["--config", config])
    write(150)
    server.start()
    try:
        time.sleep(0.5)
        server.kill()  # SIGKILL mid-way
        write(150)
        server.start(port=server.port)
        write(100)

        def billing():
            return [r for r in all_records(server, "files") if r["service"] == "billing"]

        deadline = time.time() + 30
        while len(billing()) < len(expected) and time.time() < deadline:
            time.sleep(0.25)
        time.sleep(1.0)
        recs = billing()
        check_exactly_once(recs, {f"b{k}" for k in range(len(expected))})
        by_seq = {seq_of(r): r for r in recs}
        for k, entry in enumerate(expected):
            r = by_seq[f"b{k}"]
            check_eq(r["message"], entry, f"b{k} message")
            check_eq(r["level"], "error" if k % 5 == 0 else "info", f"b{k} level")
            check_eq(r["source"], "file", f"b{k} source")
            check_eq(r["attributes"].get("env"), "test", f"b{k} label env")
        text = server.get("/metrics").body
        m = re.search(r'^lode_ingest_accepted_records_total\{source="file"\} (\d+)$', text, re.M)
        check(m is not None and int(m.group(1)) > 0, "file source counters in /metrics")

        if samples:
            recs = all_records(server, "files")
            cri = [r for r in recs if r["service"] == "web"]
            # An entry starts at each line whose content is not indented.
            with open(os.path.join(SHARED, "cri.log")) as f:
                starts = sum(1 for line in f if not line.split(" ", 3)[3].startswith(("\t", " ")))
            check_eq(len(cri), starts, "entries of the real CRI sample")
            check(all(r["attributes"].get("namespace") == "prod" for r in cri), "CRI namespace")
            docker = [r for r in recs if r["service"] == "beats"]
            # Each line is a record, but a piece whose "log" does not end in
            # "\n" is joined with the next; a line that is not JSON stays.
            want = 0
            with open(os.path.join(SHARED, "docker-json.log")) as f:
                for line in f:
                    try:
                        want += json.loads(line)["log"].endswith("\n")
                    except ValueError:
                        want += 1
            check_eq(len(docker), want, "records of the real Docker sample")
            bad = [r for r in docker if "parse_error" in r["attributes"]]
            check_eq(len(bad), 1, "Docker sample lines kept with a parse_error")
        server.stop()
        print(f"serve: {len(expected)} entries exactly once through a SIGKILL")
    except Exception:
        print("--- server log ---\n" + server.log())
        raise
    finally:
        server.kill()


def main():
    args = parse_args()
    work = tempfile.mkdtemp(prefix="lode-files-")
    failed = 0
    for scenario in (scenario_agent, scenario_serve):
        try:
            scenario(args.lode, work)
            print(f"[ OK ] {scenario.__name__}", flush=True)
        except Exception:
            import traceback
            traceback.print_exc()
            print(f"[FAIL] {scenario.__name__}", flush=True)
            failed += 1
    shutil.rmtree(work, ignore_errors=True)
    print(f"{2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
