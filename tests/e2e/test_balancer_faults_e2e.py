"""The balancer under faults, with real processes on loopback: a backend that answers garbage, one that
never answers, Redis restarted and frozen, a memory table that must stay flat, half-sent requests."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import require
from tests.e2e.conftest import free_port
from tests.e2e.conftest import wait_for_port
from tests.e2e.test_balancer_e2e import _launch_balance
from tests.e2e.test_balancer_e2e import _metrics
from tests.e2e.test_balancer_e2e import _SetsSession
from tests.e2e.test_balancer_e2e import _stop
from tests.e2e.test_balancer_e2e import named_backends  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

# A backend process that accepts, reads a request head, then answers garbage or nothing at all.
FAULTY = r"""
import asyncio, sys
async def take(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            if sys.argv[2] == "garbage":
                writer.write(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
                await writer.drain()
            else:
                await asyncio.sleep(3600)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
async def main():
    server = await asyncio.start_server(take, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


class Faulty:
    def __init__(self, mode):
        self.server_address = ("127.0.0.1", free_port())
        self.proc = subprocess.Popen([sys.executable, "-c", FAULTY, str(self.server_address[1]), mode])
        wait_for_port(self.server_address[1], self.proc)

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


def get(port, cookie=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Host": "shop.example", **({"Cookie": cookie} if cookie else {})})
        r = conn.getresponse()
        return r.status, r.read().decode(), r.getheader("set-cookie")
    finally:
        conn.close()


def _counter(samples, name, **labels):
    return sum(v for (n, ls), v in samples.items() if n == name and all(dict(ls).get(k) == x
                                                                        for k, x in labels.items()))


def test_a_garbage_backend_costs_no_client_an_error_and_leaves_placement(named_backends, tmp_path):  # noqa: F811
    junk = Faulty("garbage")
    sock = tmp_path / "admin.sock"
    servers = {"app1": named_backends["app1"], "app2": named_backends["app2"], "junk": junk}
    port, proc = _launch_balance(tmp_path, servers, "--admin", f"unix:{sock}", "--affinity", "route",
                                 "--health", "tcp,interval=0.3,timeout=0.3,rise=2,fall=2")
    try:
        # New sessions and a session pinned to the garbage backend: every one answered by a live backend.
        answers = [get(port) for _ in range(20)] + [get(port, "JSESSIONID=0123456789ABCDEF.r-junk")
                                                   for _ in range(5)]
        assert [a[0] for a in answers] == [200] * 25
        assert {a[1].split()[0] for a in answers} <= {"app1", "app2"}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _counter(_metrics(sock), "stickyguard_backend_up", backend="junk"):
            time.sleep(0.1)
        assert _counter(_metrics(sock), "stickyguard_backend_up", backend="junk") == 0
    finally:
        junk.stop()
        err = _stop(proc)
    assert "balancer: junk is down (" in err and "Traceback" not in err


def test_a_backend_that_never_answers_costs_one_response_timeout(named_backends, tmp_path):  # noqa: F811
    hang = Faulty("hang")
    sock = tmp_path / "admin.sock"
    servers = {"app1": named_backends["app1"], "hang": hang}
    port, proc = _launch_balance(tmp_path, servers, "--admin", f"unix:{sock}", "--affinity", "route",
                                 "--response-timeout", "1")
    try:
        results = []

        def one():
            started = time.monotonic()
            results.append((*get(port, "JSESSIONID=0123456789ABCDEF.r-hang")[:2], time.monotonic() - started))
        clients = [threading.Thread(target=one) for _ in range(8)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(30)
        assert [(s, body.split()[0]) for s, body, _ in results] == [(200, "app1")] * 8
        assert all(0.9 < took < 5 for _, _, took in results), results
        assert _counter(_metrics(sock), "stickyguard_retries_total", why="response timeout") == 8
    finally:
        hang.stop()
        err = _stop(proc)
    assert "balancer: hang failed a request in flight (response timeout), sending to app1" in err


class Redis:
    """A redis-server of this test's own, which it stops, freezes and restarts (with its data saved)."""

    def __init__(self, workdir):
        exe = shutil.which("redis-server")
        require("redis-server", exe, "Debian's redis-server; .ci/run installs it")
        self.exe, self.workdir, self.port = exe, workdir, free_port()
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "3600 1",
                                      "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)

    def restart(self):
        self.proc.terminate()  # SIGTERM: Redis saves its data and exits
        self.proc.wait(timeout=10)
        self.start()

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def sessions_app():
    import http.server

    servers = {}
    for name in ("app1", "app2", "app3"):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SetsSession)
        srv.name, srv.connections, srv.daemon_threads = name, set(), True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers[name] = srv
    yield servers
    for srv in servers.values():
        srv.shutdown()
        srv.server_close()


def _learn(port, n):
    """n sessions, each started once: the JSESSIONID each got and the backend that set it."""
    out = []
    for _ in range(n):
        status, body, set_cookie = get(port)
        assert status == 200 and set_cookie
        out.append((set_cookie.split(";")[0], body))
    return out


def test_redis_restarted_or_frozen_costs_no_session_and_no_wait(sessions_app, tmp_path):
    redis = Redis(tmp_path)
    sock = tmp_path / "admin.sock"
    port, proc = _launch_balance(tmp_path, sessions_app, "--admin", f"unix:{sock}", "--affinity", "app-cookie",
                                 "--store", f"redis://127.0.0.1:{redis.port}/0")
    try:
        learned = _learn(port, 10)
        assert all(get(port, cookie)[1] == backend for cookie, backend in learned)
        # Restarted: every pooled connection is dead; each session still finds its backend.
        redis.restart()
        time.sleep(1.1)  # past what the proxy keeps of its recent reads (RedisStore.RECENT): Redis is asked
        assert [get(port, cookie)[1] for cookie, _ in learned] == [b for _, b in learned]
        samples = _metrics(sock)
        assert _counter(samples, "stickyguard_decisions_total", reason="unstored") == 0
        assert _counter(samples, "stickyguard_decisions_total", reason="unlearned") == 0
        # Frozen: no request waits for it longer than the store timeout; all are answered.
        redis.signal(signal.SIGSTOP)
        time.sleep(1.1)
        started = time.monotonic()
        frozen = [get(port, cookie)[0] for cookie, _ in learned]
        took = time.monotonic() - started
        assert frozen == [200] * 10 and took < 2.0, took  # 2 s per request before
        assert _counter(_metrics(sock), "stickyguard_decisions_total", reason="unstored") == 10
        redis.signal(signal.SIGCONT)
        time.sleep(1.2)  # the table is asked again after its 1 s cool-down
        assert [get(port, cookie)[1] for cookie, _ in learned] == [b for _, b in learned]
    finally:
        redis.stop()
        err = _stop(proc)
    assert f"the session table is unavailable (redis redis://127.0.0.1:{redis.port}/0: no answer within 250 ms)" in err
    assert "Traceback" not in err


def test_the_memory_table_purges_expired_sessions(sessions_app, tmp_path):
    sock = tmp_path / "admin.sock"
    port, proc = _launch_balance(tmp_path, sessions_app, "--admin", f"unix:{sock}", "--affinity", "app-cookie",
                                 "--idle-timeout", "5")
    try:
        _learn(port, 100)
        assert _counter(_metrics(sock), "stickyguard_session_table_entries") == 100
        deadline = time.monotonic() + 15  # nothing reads them again: only the purge takes them out
        while time.monotonic() < deadline and _counter(_metrics(sock), "stickyguard_session_table_entries"):
            time.sleep(0.2)
        assert _counter(_metrics(sock), "stickyguard_session_table_entries") == 0
    finally:
        _stop(proc)


def test_half_sent_requests_are_closed_and_others_still_served(named_backends, tmp_path):  # noqa: F811
    sock = tmp_path / "admin.sock"
    port, proc = _launch_balance(tmp_path, named_backends, "--admin", f"unix:{sock}", "--client-timeout", "1")
    half = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: shop.example\r\nX-Slow: ")  # and never the rest
            half.append(s)
        assert get(port)[0] == 200  # others are served meanwhile
        deadline = time.monotonic() + 10
        closed = 0
        for s in half:
            s.settimeout(max(deadline - time.monotonic(), 0.1))
            try:
                closed += s.recv(1) == b""
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass
        assert closed == 200
        why = "no request within balance_client_timeout"
        assert _counter(_metrics(sock), "stickyguard_clients_closed_total", why=why) >= 200
    finally:
        for s in half:
            s.close()
        err = _stop(proc)
    assert "Traceback" not in err
