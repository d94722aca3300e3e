"""End to end: syslog over UDP and TCP from the real `logger` (util-linux).

Starts `lode serve --syslog-udp --syslog-tcp` on loopback ports, sends RFC 5424
and RFC 3164 messages with `logger` over UDP, TCP with LF framing and TCP with
octet counting (RFC 6587), and a file of lines; then checks that every record
is queryable with the right service (app-name/tag), instance (hostname),
level (from the severity), timestamp, facility, structured data and message
id. Malformed input is counted as rejected while the messages around it are
kept. Skips (77) when `logger` is not installed.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from lodetest import SKIP, check, check_eq, free_port, parse_args, run_tests, wait_for_records

UDP_PORT = free_port()
TCP_PORT = free_port()
HOST = socket.gethostname()
# RFC 3164 carries no time zone: Lode reads it as UTC, so logger writes UTC.
ENV = dict(os.environ, TZ="UTC")


def logger(*args):
    subprocess.run(["logger", "-n", "127.0.0.1", *args], check=True, env=ENV, timeout=30)


def records_matching(s, text, want, timeout=15):
    return wait_for_records(s, want, timeout, contains=text)


def metric(s, name, source):
    text = s.get("/metrics").body
    m = re.search(rf'^{name}{{source="{source}"}} (\d+)$', text, re.M)
    check(m is not None, f"{name} for {source} in /metrics")
    return int(m.group(1))


def check_recent(rec, what):
    t = int(rec["timestamp_ns"]) / 1e9
    check(abs(t - time.time()) < 120, f"{what}: timestamp {rec['timestamp']} is about now")


def test_udp_rfc5424_with_structured_data(s):
    logger("-P", str(UDP_PORT), "-d", "--rfc5424", "-t", "payments", "-p", "local3.warning",
           "--sd-id", "order@32473", "--sd-param", 'id="A17"', "--sd-param", 'total="9.99"',
           "--msgid", "ORD", "charge 42 declined by issuer")
    (rec,) = records_matching(s, "charge 42 declined", 1)
    check_eq(rec["message"], "charge 42 declined by issuer", "message")
    check_eq(rec["service"], "payments", "service (app-name)")
    check_eq(rec["level"], "warn", "level (severity warning)")
    check_eq(rec["source"], "syslog", "source")
    check(rec["instance"] in (HOST, socket.getfqdn()), f"instance is the host: {rec['instance']}")
    attrs = rec["attributes"]
    check_eq(attrs.get("syslog.facility"), "local3", "facility")
    check_eq(attrs.get("syslog.severity"), "warning", "severity")
    check_eq(attrs.get("syslog.msgid"), "ORD", "msgid")
    check_eq(attrs.get("order@32473.id"), "A17", "structured data param")
    check_eq(attrs.get("order@32473.total"), "9.99", "structured data param")
    check_recent(rec, "RFC 5424")


def test_udp_rfc3164(s):
    logger("-P", str(UDP_PORT), "-d", "--rfc3164", "-t", "cron", "-p", "cron.info",
           "job 7 finished in 3s")
    (rec,) = records_matching(s, "job 7 finished", 1)
    check_eq(rec["service"], "cron", "service (tag)")
    check_eq(rec["level"], "info", "level")
    check_eq(rec["attributes"].get("syslog.facility"), "cron", "facility")
    check_recent(rec, "RFC 3164 (year inferred, UTC)")


def test_tcp_octet_counting_rfc5424(s):
    logger("-P", str(TCP_PORT), "-T", "--octet-count", "--rfc5424", "-t", "api", "-p", "user.err",
           "upstream timeout after 30s")
    (rec,) = records_matching(s, "upstream timeout after 30s", 1)
    check_eq(rec["service"], "api", "service")
    check_eq(rec["level"], "error", "level (severity err)")
    check_eq(rec["attributes"].get("syslog.facility"), "user", "facility")


def test_tcp_lf_framing_rfc3164(s):
    # (logger turns facility kern into user: only the kernel may use it.)
    logger("-P", str(TCP_PORT), "-T", "--rfc3164", "-t", "smartd", "-p", "daemon.crit",
           "disk sda failing: 12 reallocated sectors")
    (rec,) = records_matching(s, "disk sda failing", 1)
    check_eq(rec["service"], "smartd", "service")
    check_eq(rec["level"], "fatal", "level (severity crit)")
    check_eq(rec["attributes"].get("syslog.facility"), "daemon", "facility")


def test_tcp_file_of_lines(s):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        for i in range(200):
            f.write(f"batch line {i} of the nightly export\n")
        path = f.name
    try:
        logger("-P", str(TCP_PORT), "-T", "--octet-count", "-t", "export", "-p", "daemon.notice",
               "-f", path)
    finally:
        os.unlink(path)
    got = records_matching(s, "of the nightly export", 200)
    check_eq(len(got), 200, "every line of the file")
    check_eq({r["service"] for r in got}, {"export"}, "service")
    check_eq(sorted(int(r["message"].split()[2]) for r in got), list(range(200)), "each once")


def test_bad_input_is_counted_and_the_rest_kept(s):
    before_udp = metric(s, "lode_ingest_rejected_records_total", "syslog_udp")
    before_tcp = metric(s, "lode_ingest_rejected_records_total", "syslog_tcp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(b"this is not syslog", ("127.0.0.1", UDP_PORT))
        u.sendto(b"<13>1 2024-11-14T15:01:04Z host app - - - udp after the bad one",
                 ("127.0.0.1", UDP_PORT))
    with socket.create_connection(("127.0.0.1", TCP_PORT)) as t:
        t.sendall(b"<999>bad priority\n"
                  b"<14>Nov 14 15:01:04 host app: tcp after the bad one\n")
    (u_rec,) = records_matching(s, "udp after the bad one", 1)
    check_eq(u_rec["timestamp"], "2024-11-14T15:01:04Z", "RFC 5424 timestamp")
    (t_rec,) = records_matching(s, "tcp after the bad one", 1)
    check_eq(t_rec["service"], "app", "service")
    deadline = time.time() + 10
    while time.time() < deadline:
        if (metric(s, "lode_ingest_rejected_records_total", "syslog_udp") > before_udp and
                metric(s, "lode_ingest_rejected_records_total", "syslog_tcp") > before_tcp):
            break
        time.sleep(0.1)
    check_eq(metric(s, "lode_ingest_rejected_records_total", "syslog_udp"), before_udp + 1,
             "UDP rejection counted")
    check_eq(metric(s, "lode_ingest_rejected_records_total", "syslog_tcp"), before_tcp + 1,
             "TCP rejection counted")
    check(metric(s, "lode_ingest_accepted_records_total", "syslog_tcp") >= 203,
          "accepted TCP records counted")
    check("rejected" in s.log(), "the server log names the rejection")


def test_logql_over_syslog(s):
    r = s.get("/loki/api/v1/query?query=" +
              "sum%20by%20(service)%20(count_over_time(%7Bsource%3D%22syslog%22%7D%5B1h%5D))")
    check_eq(r.status, 200, f"LogQL over syslog records: {r}")
    by = {x["metric"].get("service"): int(x["value"][1]) for x in r.json()["data"]["result"]}
    check_eq(by.get("export"), 200, "export lines counted by LogQL")


RSYSLOG_CONF = """
global(workDirectory="{dir}")
module(load="imfile" mode="polling" PollingInterval="1")
ruleset(name="tcp5424") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
}}
ruleset(name="udp3164") {{
  action(type="omfwd" target="127.0.0.1" port="{udp}" protocol="udp"
         template="RSYSLOG_TraditionalForwardFormat")
}}
input(type="imfile" file="{dir}/web.log" tag="webapp:" facility="local4" severity="warning"
      ruleset="tcp5424")
input(type="imfile" file="{dir}/worker.log" tag="worker:" facility="local5" severity="info"
      ruleset="udp3164")
"""


def test_rsyslog_forwards_files(s):
    """rsyslog tails two files (imfile) and forwards them with omfwd: one as
    RFC 5424 over TCP with octet counting, one in the traditional (RFC 3164)
    format over UDP."""
    if shutil.which("rsyslogd") is None:
        raise RuntimeError("rsyslogd is not installed (scripts/setup.sh installs rsyslog)")
    work = tempfile.mkdtemp(prefix="lode-rsyslog-")
    try:
        with open(os.path.join(work, "web.log"), "w") as f:
            for i in range(50):
                f.write(f"webapp request {i} served in {i + 1}ms\n")
        with open(os.path.join(work, "worker.log"), "w") as f:
            for i in range(50):
                f.write(f"worker job {i} done\n")
        conf = os.path.join(work, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(RSYSLOG_CONF.format(dir=work, tcp=TCP_PORT, udp=UDP_PORT))
        proc = subprocess.Popen(
            ["rsyslogd", "-n", "-f", conf, "-i", os.path.join(work, "rsyslogd.pid")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV)
        try:
            web = records_matching(s, "served in", 50, timeout=30)
            work_recs = records_matching(s, "worker job", 50, timeout=30)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
        check_eq(len(web), 50, f"web.log lines over TCP (rsyslogd said: {out[-500:]!r})")
        check_eq(len(work_recs), 50, f"worker.log lines over UDP (rsyslogd said: {out[-500:]!r})")
        check_eq({r["service"] for r in web}, {"webapp"}, "RFC 5424 app-name")
        check_eq({r["level"] for r in web}, {"warn"}, "level from severity warning")
        check_eq({r["attributes"].get("syslog.facility") for r in web}, {"local4"}, "facility")
        check_eq({r["service"] for r in work_recs}, {"worker"}, "RFC 3164 tag")
        check_eq({r["level"] for r in work_recs}, {"info"}, "level from severity info")
        check_eq({r["attributes"].get("syslog.facility") for r in work_recs}, {"local5"},
                 "facility")
        check_eq(sorted(int(r["message"].split()[2]) for r in web), list(range(50)), "each once")
        for r in web + work_recs:
            check(r["instance"] in (HOST, socket.getfqdn()), f"instance: {r['instance']}")
            check_recent(r, "forwarded line")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    args = parse_args()
    if shutil.which("logger") is None:
        print("SKIP: `logger` (util-linux, Debian package bsdutils) is not installed")
        return SKIP
    return run_tests(
        [test_udp_rfc5424_with_structured_data, test_udp_rfc3164,
         test_tcp_octet_counting_rfc5424, test_tcp_lf_framing_rfc3164, test_tcp_file_of_lines,
         test_bad_input_is_counted_and_the_rest_kept, test_logql_over_syslog,
         test_rsyslog_forwards_files],
        args.lode,
        server_args=["--syslog-udp", f"127.0.0.1:{UDP_PORT}",
                     "--syslog-tcp", f"127.0.0.1:{TCP_PORT}"])


if __name__ == "__main__":
    sys.exit(main())
