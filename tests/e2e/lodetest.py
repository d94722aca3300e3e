"""Helpers for Lode's end-to-end tests: start a real `lode serve` on a free
loopback port with a temporary data directory, talk HTTP to it, check things.

Only the Python standard library is used. Each test script is a plain program
run by CTest: exit 0 passes, 77 skips, anything else fails.
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77


def parse_args(extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("--lode", required=True, help="path to the lode binary")
    if extra:
        extra(p)
    return p.parse_args()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"HTTP {self.status}: {self.body[:300]!r}"


class Server:
    """A `lode serve` process with its own data directory."""

    def __init__(self, lode, data_dir=None, extra_args=()):
        self.lode = lode
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="lode-e2e-")
        self.extra_args = list(extra_args)
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, port=None):
        self.port = port or free_port()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.lode, "serve", "--data", self.data_dir, "--http", f"127.0.0.1:{self.port}",
             *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lode serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.get("/readyz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("lode serve did not become ready in 30 s:\n" + self.log())

    def kill(self):
        """SIGKILL: no chance to flush or clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("lode serve did not stop within 30 s of SIGTERM")
            if self.proc.returncode != 0:
                raise RuntimeError(f"lode serve exited with {self.proc.returncode}:\n{self.log()}")

    def cleanup(self):
        self.kill()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=60):
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.read().decode(errors="replace"), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Response(e.code, e.read().decode(errors="replace"), dict(e.headers))

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, body, headers=None):
        return self.request("POST", path, body, headers)

    def logs(self, headers=None, **params):
        """GET /api/v1/logs with params (lists repeat the parameter); returns the JSON."""
        r = self.get("/api/v1/logs?" + urllib.parse.urlencode(params, doseq=True), headers)
        check(r.status == 200, f"query {params} failed: {r}")
        return r.json()

    def aggregate(self, **params):
        r = self.get("/api/v1/aggregate?" + urllib.parse.urlencode(params, doseq=True))
        check(r.status == 200, f"aggregate {params} failed: {r}")
        return r.json()


class CheckFailed(AssertionError):
    pass


CLIENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients")


def npm_clients_missing():
    """Why the real npm clients (tests/clients, installed by scripts/setup.sh)
    cannot run, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed (scripts/setup.sh installs it)"
    if not os.path.isdir(os.path.join(CLIENTS_DIR, "node_modules")):
        return "tests/clients/node_modules is missing (scripts/setup.sh installs it)"
    return None


def wait_for_records(server, want, timeout=15, **params):
    """Polls GET /api/v1/logs with `params` until at least `want` records match
    (sources that deliver asynchronously: syslog, npm clients), or `timeout`
    seconds pass; returns what matched."""
    params.setdefault("limit", 1000)
    deadline = time.time() + timeout
    while True:
        got = server.logs(**params)["records"]
        if len(got) >= want or time.time() > deadline:
            return got
        time.sleep(0.1)


def check(cond, message):
    if not cond:
        raise CheckFailed(message)


def check_eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def gzip_bytes(data):
    return gzip.compress(data if isinstance(data, bytes) else data.encode())


class ConfigFile:
    """A temporary YAML config file for `lode serve --config`, removed on exit."""

    def __init__(self, yaml_text):
        self.yaml_text = yaml_text
        self.path = None

    def __enter__(self):
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(self.yaml_text)
        f.close()
        self.path = f.name
        return self.path

    def __exit__(self, *exc):
        os.unlink(self.path)


def run_scenario(scenario, lode, config_yaml=""):
    """Runs scenario(server) once against a fresh server configured with
    `config_yaml`; prints the outcome (and the server log on failure)."""
    with ConfigFile(config_yaml) as cfg:
        server = Server(lode, extra_args=["--config", cfg])
        try:
            server.start()
            scenario(server)
            print("1 passed, 0 failed")
            return 0
        except Exception:
            traceback.print_exc()
            print(f"--- server log (tail) ---\n{server.log()}")
            print("0 passed, 1 failed")
            return 1
        finally:
            server.cleanup()


def run_cases(cases, run, name=lambda case: case.__name__, hopeless=None):
    """Runs run(case) for each case, printing `[ OK ] name` (with what run returns, if
    anything) or `[FAIL] name` and the traceback; returns (passed, failed). When
    hopeless() is true after a failure (say the server died), the cases left are counted
    as failed without running."""
    passed = failed = 0
    for i, case in enumerate(cases):
        t0 = time.time()
        try:
            note = run(case)
            passed += 1
            print(f"[ OK ] {name(case)}{': ' + note if note else ''} ({time.time() - t0:.2f}s)",
                  flush=True)
        except Exception:
            failed += 1
            print(f"[FAIL] {name(case)}", flush=True)
            traceback.print_exc()
            if hopeless is not None and hopeless():
                print("the remaining tests cannot run")
                failed += len(cases) - i - 1
                break
    return passed, failed


def run_tests(tests, lode, server_args=()):
    """Runs each test(server) against one fresh server; prints a summary."""
    passed = failed = 0
    server = Server(lode, extra_args=server_args)
    try:
        server.start()
        passed, failed = run_cases(tests, lambda t: t(server))
        if failed:
            print("--- server log (tail) ---\n" + server.log())
    finally:
        server.cleanup()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
