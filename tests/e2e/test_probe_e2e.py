"""The probe against real balancers on loopback: Debian's HAProxy with `cookie ... insert` (a client can
name its server) and stickyguard's own balancer (a sealed cookie: it cannot)."""

import http.server
import json
import shutil
import subprocess
import threading

import pytest

from stickyguard.audit import cli
from tests.conftest import require
from tests.e2e.conftest import wait_for_port

pytestmark = pytest.mark.slow

HAPROXY = shutil.which("haproxy")


class Backend(http.server.BaseHTTPRequestHandler):
    name = "b?"

    def do_GET(self):
        self.send_response(200)
        self.send_header("X-Backend", self.name)
        self.send_header("Content-Length", str(len(self.name)))
        self.end_headers()
        self.wfile.write(self.name.encode())

    def log_message(self, *a):
        pass


@pytest.fixture
def backends():
    servers = []
    for i in (1, 2, 3):
        handler = type(f"B{i}", (Backend,), {"name": f"b{i}"})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [s.server_address[1] for s in servers]
    for s in servers:
        s.shutdown()
        s.server_close()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def haproxy(tmp_path):
    require("HAProxy", HAPROXY, "Debian's haproxy; .ci/run installs it")
    procs = []

    def start(backend_ports, backend_lines):
        port = free_port()
        servers = "\n".join(f"    server b{i} 127.0.0.1:{p} {backend_lines.format(n=f'b{i}')}"
                            for i, p in enumerate(backend_ports, 1))
        cfg = tmp_path / f"haproxy-{port}.cfg"
        cfg.write_text(f"""global
    maxconn 100
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
{{extra}}
{servers}
""")
        return cfg, port

    def run(cfg, port):
        proc = subprocess.Popen([HAPROXY, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        wait_for_port(port, proc)
        return port

    yield start, run
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def probe(capsys, url, *extra):
    status = cli.main(["probe", url, "--sessions", "9", "--returns", "2", "--rate", "100", "--format", "json",
                       *extra])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def test_haproxy_insert_cookie_is_named_and_steerable(haproxy, backends, capsys):
    start, run = haproxy
    cfg, port = start(backends, "cookie {n}")
    cfg.write_text(cfg.read_text().replace("{extra}", "    cookie SERVERID insert indirect nocache"))
    run(cfg, port)
    result = probe(capsys, f"http://127.0.0.1:{port}/")
    assert result["backend_signal"] == "header x-backend (high confidence)"
    assert result["mechanism"]["kind"] == "cookie" and result["mechanism"]["cookie"] == "SERVERID"
    assert result["mechanism"]["vendor"] == "HAProxy"
    assert result["stickiness"] == 1.0
    assert result["sessions_per_backend"] == {"b1": 3, "b2": 3, "b3": 3} and result["jain"] == pytest.approx(1.0)
    assert result["steerable"] is True


def test_haproxy_balance_source_is_source_ip(haproxy, backends, capsys):
    start, run = haproxy
    cfg, port = start(backends, "")
    cfg.write_text(cfg.read_text().replace("    balance roundrobin\n{extra}", "    balance source"))
    run(cfg, port)
    sources = [a for s in ("127.0.0.2", "127.0.0.3", "127.0.0.4") for a in ("--source-address", s)]
    result = probe(capsys, f"http://127.0.0.1:{port}/", *sources)
    assert result["mechanism"]["kind"] == "source-ip"
    assert all(len(c) == 1 for c in result["by_source"].values())


def test_stickyguards_sealed_cookie_is_named_and_not_steerable(mitmdump, backends, capsys):
    args = ["--mode", "reverse:http://127.0.0.1:1", "-s", "addons/balancer.py", "--set", "connection_strategy=lazy",
            "--set", "balance_secret=" + "0123456789abcdef" * 2, "--set", "balance_health="]
    for i, port in enumerate(backends, 1):
        args += ["--set", f"balance_backends=b{i}=http://127.0.0.1:{port}"]
    port = mitmdump.start(*args)
    result = probe(capsys, f"http://127.0.0.1:{port}/")
    assert result["mechanism"]["kind"] == "cookie" and result["stickiness"] == 1.0
    assert len(result["sessions_per_backend"]) == 3
    variants = {t["variant"]: t for t in result["tamper"]}
    assert set(variants) == {"dropped", "truncated", "changed"}  # a sealed token names no backend to write
    assert result["steerable"] is False
