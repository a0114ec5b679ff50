"""Retries in flight: a backend process dies while holding requests (real launcher, real processes)."""

import http.client
import subprocess
import sys
import threading
import time

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.test_balancer_e2e import _launch_balance
from tests.e2e.test_balancer_e2e import _metrics
from tests.e2e.test_balancer_e2e import _stop
from tests.e2e.test_balancer_e2e import named_backends  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

# A backend that takes requests and never answers: it says on stdout what it received, then waits to die.
SLOW = r"""
import asyncio, sys
async def take(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:  # a connection that sent nothing (a probe)
        return
    method = head.split(b" ", 1)[0].decode()
    if method == "POST":
        await reader.readexactly(1000)  # the first part of the body, then nothing more
    print("got", method, flush=True)
    await asyncio.sleep(3600)
async def main():
    server = await asyncio.start_server(take, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


class SlowBackend:
    def __init__(self, port=None):
        port = port or free_port()
        self.server_address = ("127.0.0.1", port)
        self.proc = subprocess.Popen([sys.executable, "-c", SLOW, str(port)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def wait_for(self, n, method):
        for _ in range(n):
            assert self.proc.stdout.readline().split() == ["got", method]

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


def _request(port, method, results, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, "/", body=body,
                     headers={"Host": "shop.example", "Cookie": "JSESSIONID=0123456789ABCDEF.r-slow"})
        r = conn.getresponse()
        results.append((r.status, r.read().decode(), dict(r.getheaders())))
    except (OSError, http.client.HTTPException) as e:
        results.append((None, repr(e), {}))
    finally:
        conn.close()


def test_a_backend_killed_holding_requests_loses_no_get_and_replays_no_post(named_backends, tmp_path):  # noqa: F811
    received = []
    for srv in named_backends.values():
        handle = srv.RequestHandlerClass.handle_one_request

        def counting(self, handle=handle):
            handle(self)
            if getattr(self, "command", None):
                received.append(self.command)
        srv.RequestHandlerClass = type("Counting", (srv.RequestHandlerClass,), {"handle_one_request": counting})
    slow = SlowBackend()
    sock = tmp_path / "admin.sock"
    servers = {"app1": named_backends["app1"], "app2": named_backends["app2"], "slow": slow}
    port, proc = _launch_balance(tmp_path, servers, "--affinity", "route", "--admin", f"unix:{sock}",
                                 "--response-timeout", "60")
    try:
        results: list = []
        clients = [threading.Thread(target=_request, args=(port, "GET", results)) for _ in range(20)]
        for t in clients:
            t.start()
        slow.wait_for(20, "GET")  # all 20 are in flight on the slow backend
        slow.kill()
        for t in clients:
            t.join(30)
        assert len(results) == 20
        assert [r[0] for r in results] == [200] * 20, results
        assert {r[1].split()[0] for r in results} <= {"app1", "app2"}

        # A POST the backend had begun receiving: a clear 502, and no other backend receives it.
        slow = SlowBackend(slow.server_address[1])  # back on its port
        del received[:]
        posted: list = []
        poster = threading.Thread(target=_request, args=(port, "POST", posted, b"x" * 100_000))
        poster.start()
        slow.wait_for(1, "POST")
        slow.kill()
        poster.join(30)
        status, body, headers = posted[0]
        assert status == 502 and body.startswith("The service is unavailable")
        time.sleep(0.5)  # a backend notes a request once it has answered it
        assert "POST" not in received
        for leak in ["127.0.0.1", str(slow.server_address[1]), "mitmproxy"]:
            assert leak not in body and all(leak not in v for v in headers.values())

        # A POST to a backend that refuses the connection never reached it: it is sent elsewhere.
        retried: list = []
        _request(port, "POST", retried, b"y" * 10)
        assert retried[0][0] == 200 and retried[0][1].split()[1] == "10"  # a live backend read its 10 bytes

        samples = _metrics(sock)
        retries = {dict(labels)["why"]: v for (name, labels), v in samples.items() if name == "stickyguard_retries_total"}
        # 20 GETs in flight, then 1 POST refused (a connect that timed out would be one more: a busy backend's
        # full listen queue drops SYNs, and that is a retry too).
        assert retries.get("empty response", 0) + retries.get("connection reset by peer", 0) == 20, retries
        assert retries["connection refused"] == 1, retries
        assert samples[("stickyguard_gave_up_total", (("why", "POST may have been received"),))] == 1
    finally:
        if slow.proc.poll() is None:
            slow.kill()
        err = _stop(proc)
    assert "balancer: slow failed a request in flight (" in err
    assert "not sent again: POST may have been received; answering 502" in err
    assert "Traceback" not in err


def test_https_backends_are_verified_as_mitmproxy_verifies_upstreams(named_backends, tmp_path):  # noqa: F811
    import ssl

    from tests.e2e.test_balancer_e2e import _self_signed_pem

    pem = _self_signed_pem(tmp_path / "backend.pem")
    srv = named_backends["app1"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)  # app1 now speaks TLS only

    def launch(*extra):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "stickyguard.addons.launch", "balance", "--listen",
                                 f"127.0.0.1:{port}", "--secret-file", str(tmp_path / "secret"), "--confdir",
                                 str(tmp_path / "conf"), "--health", "", "--backend",
                                 f"app1=https://127.0.0.1:{srv.server_address[1]}", *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        from tests.e2e.conftest import wait_for_port
        wait_for_port(port, proc)
        return port, proc

    port, proc = launch("--upstream-ca", str(pem))
    try:
        answers: list = []
        _request(port, "POST", answers, b"z" * 5000)
        assert answers[0][0] == 200 and answers[0][1] == "app1 5000"
    finally:
        _stop(proc)
    port, proc = launch()  # the backend's CA is not trusted: no connection, the balancer's own 503
    try:
        answers = []
        _request(port, "GET", answers)
        assert answers[0][0] == 503
    finally:
        err = _stop(proc)
    assert "balancer: no backend is reachable (app1: TLS handshake failed (CERTIFICATE_VERIFY_FAILED)); " \
           "answering 503" in err
