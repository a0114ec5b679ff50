"""The probe against real balancers on loopback, each in front of three Python backends that say who they
are (X-Backend): Debian's HAProxy (cookie insert, cookie prefix, balance source, plain round robin),
Debian's nginx (ip_hash, hash $cookie_JSESSIONID consistent) and stickyguard's own balancer (its sealed
cookie, and a jvmRoute-style route). The probe names each mechanism, and the tamper test finds HAProxy's
inserted cookie steerable and stickyguard's sealed one not."""

import http.server
import json
import secrets
import shutil
import subprocess
import threading

import pytest

from stickyguard.audit import cli
from tests.conftest import require
from tests.e2e.conftest import free_port
from tests.e2e.conftest import wait_for_port

pytestmark = pytest.mark.slow

HAPROXY = shutil.which("haproxy")
NGINX = shutil.which("nginx") or (shutil.which("nginx", path="/usr/sbin:/sbin") or None)
SECRET = "0123456789abcdef" * 2


class Backend(http.server.BaseHTTPRequestHandler):
    name = "b?"
    session_cookie = ""  # "", "plain" (JSESSIONID=<hex>) or "route" (JSESSIONID=<hex>.r-bN)

    def do_GET(self):
        self.send_response(200)
        self.send_header("X-Backend", self.name)
        if self.session_cookie and "JSESSIONID=" not in (self.headers.get("Cookie") or ""):
            suffix = f".r-{self.name}" if self.session_cookie == "route" else ""
            self.send_header("Set-Cookie", f"JSESSIONID={secrets.token_hex(8).upper()}{suffix}; Path=/; HttpOnly")
        self.send_header("Content-Length", str(len(self.name)))
        self.end_headers()
        self.wfile.write(self.name.encode())

    def log_message(self, *a):
        pass


@pytest.fixture
def backends():
    servers = []

    def start(session_cookie=""):
        ports = []
        for i in (1, 2, 3):
            handler = type(f"B{i}", (Backend,), {"name": f"b{i}", "session_cookie": session_cookie})
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            ports.append(server.server_address[1])
        return ports

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def processes():
    started = []

    def start(argv, port):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        wait_for_port(port, proc)
        return port

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def haproxy(processes, tmp_path, ports, balance, cookie="", server_cookie=False):
    require("HAProxy", HAPROXY, "Debian's haproxy; .ci/run installs it")
    port = free_port()
    servers = "\n".join(f"    server b{i} 127.0.0.1:{p}" + (f" cookie b{i}" if server_cookie else "")
                        for i, p in enumerate(ports, 1))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(f"global\n    maxconn 100\ndefaults\n    mode http\n    timeout connect 2s\n"
                   f"    timeout client 5s\n    timeout server 5s\nfrontend fe\n    bind 127.0.0.1:{port}\n"
                   f"    default_backend be\nbackend be\n    balance {balance}\n"
                   + (f"    {cookie}\n" if cookie else "") + servers + "\n")
    return processes([HAPROXY, "-f", str(cfg), "-db"], port)


def nginx(processes, tmp_path, ports, method):
    require("nginx", NGINX, "Debian's nginx; .ci/run installs it")
    port, prefix = free_port(), tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    servers = "".join(f"        server 127.0.0.1:{p};\n" for p in ports)
    temp = "".join(f"    {kind}_temp_path {prefix}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                              "scgi"))
    cfg = tmp_path / "nginx.conf"
    cfg.write_text(f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log warn;\n"
                   f"events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n{temp}"
                   f"    upstream be {{\n        {method};\n{servers}    }}\n"
                   f"    server {{\n        listen 127.0.0.1:{port};\n        location / {{ proxy_pass http://be; }}\n"
                   "    }\n}\n")
    return processes([NGINX, "-c", str(cfg), "-p", str(prefix), "-e", str(prefix / "logs/error.log"),
                      "-g", "daemon off;"], port)


def stickyguard(mitmdump, ports, *extra, routes=False):
    args = ["--mode", "reverse:http://127.0.0.1:1", "-s", "addons/balancer.py", "--set", "connection_strategy=lazy",
            "--set", f"balance_secret={SECRET}", "--set", "balance_health=", *extra]
    for i, p in enumerate(ports, 1):
        args += ["--set", f"balance_backends=b{i}=http://127.0.0.1:{p}" + (f",route=r-b{i}" if routes else "")]
    return mitmdump.start(*args)


def probe(capsys, port, *extra, sessions="9"):
    status = cli.main(["probe", f"http://127.0.0.1:{port}/", "--sessions", sessions, "--returns", "3",
                       "--rate", "100", "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert status in (0, 1), err  # 1: the cookies seen have findings, as `stickyguard audit` says
    return json.loads(out)["probe"]


def sources(*addresses):
    return [a for s in addresses for a in ("--source-address", s)]


def test_haproxy_insert_cookie_is_named_and_steerable(processes, backends, tmp_path, capsys):
    port = haproxy(processes, tmp_path, backends(), "roundrobin", "cookie SERVERID insert indirect nocache", True)
    result = probe(capsys, port)
    assert result["backend_signal"] == "header x-backend (high confidence)"
    assert result["mechanism"]["kind"] == "cookie" and result["mechanism"]["cookie"] == "SERVERID"
    assert result["mechanism"]["vendor"] == "HAProxy"
    assert result["stickiness"] == 1.0
    assert result["sessions_per_backend"] == {"b1": 3, "b2": 3, "b3": 3} and result["jain"] == pytest.approx(1.0)
    assert result["steerable"] is True


def test_one_report_through_the_audits_rules_and_formats(processes, backends, tmp_path, capsys):
    """The cookies the probe was given are judged like any capture, SG401 says the steering, every format
    carries the figures, and --save-capture writes a HAR the audit reads again."""
    port = haproxy(processes, tmp_path, backends(), "roundrobin", "cookie SERVERID insert indirect nocache", True)
    har, html = tmp_path / "seen.har", tmp_path / "probe.html"
    status = cli.main(["probe", f"http://127.0.0.1:{port}/", "--sessions", "6", "--returns", "2", "--rate", "100",
                       "-f", "json", "--save-capture", str(har)])
    doc = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["inputs"][0]["kind"] == "probe"
    rules = {(f["rule"], f["cookie"]) for f in doc["findings"]}
    assert ("SG401", "SERVERID") in rules and ("SG205", "SERVERID") in rules  # steered; names the server
    assert cli.main(["probe", f"http://127.0.0.1:{port}/", "--sessions", "6", "--returns", "2", "--rate", "100",
                     "-f", "html", "-o", str(html)]) == 1
    page = html.read_text()
    assert '<section id="probe">' in page and "Sessions per backend" in page and "<svg" in page
    capsys.readouterr()
    assert cli.main(["audit", str(har), "--format", "json"]) == 1
    again = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in again["cookies"]} == {"SERVERID"} and again["inputs"][0]["exchanges"] == 18


def test_haproxy_prefix_is_the_application_cookie_and_steerable(processes, backends, tmp_path, capsys):
    port = haproxy(processes, tmp_path, backends("plain"), "roundrobin", "cookie JSESSIONID prefix nocache", True)
    result = probe(capsys, port)
    assert result["mechanism"]["kind"] == "application-cookie" and result["mechanism"]["cookie"] == "JSESSIONID"
    assert result["stickiness"] == 1.0 and result["steerable"] is True


def test_haproxy_balance_source_is_source_ip(processes, backends, tmp_path, capsys):
    port = haproxy(processes, tmp_path, backends(), "source")
    # 4 source addresses, 3 servers: HAProxy hashes the whole address, so each source keeps one server and
    # the three servers are all used, one of them by two sources.
    result = probe(capsys, port, *sources("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"), sessions="12")
    assert result["mechanism"]["kind"] == "source-ip" and result["mechanism"]["confidence"] == "high"
    assert all(len(c) == 1 and sum(c.values()) == 3 for c in result["by_source"].values())
    assert sorted(result["sessions_per_backend"].values()) == [3, 3, 6] and result["stickiness"] == 1.0


def test_haproxy_round_robin_is_no_stickiness(processes, backends, tmp_path, capsys):
    port = haproxy(processes, tmp_path, backends(), "roundrobin")
    result = probe(capsys, port)
    assert result["mechanism"]["kind"] == "none" and result["stickiness"] < 0.6


def test_nginx_ip_hash_is_source_ip_over_the_third_octet(processes, backends, tmp_path, capsys):
    port = nginx(processes, tmp_path, backends(), "ip_hash")
    # ip_hash keys an IPv4 client on its first three octets: vary the third, or every source looks alike.
    result = probe(capsys, port, *sources("127.0.1.1", "127.0.2.1", "127.0.3.1"))
    assert result["mechanism"]["kind"] == "source-ip"
    assert all(len(c) == 1 for c in result["by_source"].values())


def test_nginx_cookie_hash_is_the_application_cookie(processes, backends, tmp_path, capsys):
    port = nginx(processes, tmp_path, backends("plain"), "hash $cookie_JSESSIONID consistent")
    result = probe(capsys, port)
    assert result["mechanism"]["kind"] == "application-cookie" and result["mechanism"]["cookie"] == "JSESSIONID"
    assert result["stickiness"] == 1.0


def test_stickyguards_sealed_cookie_is_named_and_not_steerable(mitmdump, backends, capsys):
    port = stickyguard(mitmdump, backends())
    result = probe(capsys, port)
    assert result["mechanism"]["kind"] == "cookie" and result["stickiness"] == 1.0
    assert len(result["sessions_per_backend"]) == 3
    variants = {t["variant"] for t in result["tamper"]}
    assert variants == {"dropped", "truncated", "bit-flipped"}  # a sealed token names no backend to write
    assert result["steerable"] is False


def test_stickyguards_route_affinity_is_a_route(mitmdump, backends, capsys):
    port = stickyguard(mitmdump, backends("route"), "--set", "balance_affinity=route", routes=True)
    result = probe(capsys, port)
    assert result["mechanism"]["kind"] == "route" and result["mechanism"]["cookie"] == "JSESSIONID"
    assert result["stickiness"] == 1.0


def test_ctrl_c_stops_and_reports_what_was_learned(backends, tmp_path):
    """SIGINT mid-run: the probe sends nothing more (no cookie or tamper test) and still writes its report."""
    import signal
    import sys
    import time

    port = backends()[0]
    proc = subprocess.Popen([sys.executable, "-m", "stickyguard.audit", "probe", f"http://127.0.0.1:{port}/",
                             "--sessions", "60", "--returns", "3", "--rate", "20", "-f", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), err
    doc = json.loads(out)
    assert 0 < doc["probe"]["requests"] < 240 and doc["probe"]["tamper"] == []
    assert "probe stopped after" in err and "Traceback" not in err
