"""Real servers on loopback: a cookie-setting backend and mitmdump, started and stopped here."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the backend sets, per path: a mix of balancer cookies and an application cookie.
COOKIES = {
    "/": ["BIGipServerweb_pool=1677787402.36895.0000; path=/",
          "JSESSIONID=7D8A2F0B4C1E9A3D5F6B8C0E2A4D6F81.node2; Path=/; HttpOnly"],
    "/cart": ["SERVERID=app2; Path=/; Max-Age=2592000", "theme=dark; Path=/; Max-Age=63072000"],
    "/api": ["INGRESSCOOKIE=1598371152.898.2320.533481; Path=/; HttpOnly",
             "route=MTAuMC4wLjEyOjgwODA=; Path=/"],
}


class _Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = b"ok"
        self.send_response(200)
        for cookie in COOKIES.get(self.path.split("?")[0], []):
            self.send_header("Set-Cookie", cookie)
        self.send_header("X-Backend-Server", "app-2.internal")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = (proc.stderr or proc.stdout).read().decode()
            raise RuntimeError(f"mitmdump exited with {proc.returncode}: {output[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"mitmdump did not listen on {port} within {seconds} s")


@pytest.fixture
def backend():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class Mitmdump:
    """mitmdump processes started for one test; `stop()` ends them (SIGTERM, then SIGKILL)."""

    def __init__(self, confdir: Path):
        self.confdir = confdir
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str) -> int:
        port = free_port()
        exe = Path(sys.executable).with_name("mitmdump")
        cmd = [str(exe), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
               "--set", f"confdir={self.confdir}", *args]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(proc)
        wait_for_port(port, proc)
        return port

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []


@pytest.fixture
def mitmdump(tmp_path):
    proxies = Mitmdump(tmp_path / "mitmconf")
    yield proxies
    proxies.stop()
