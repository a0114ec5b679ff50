import asyncio
import http.server
import socket
import threading

import pytest

from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing import health


@pytest.mark.parametrize("text,spec", [
    ("tcp", health.CheckSpec("tcp", "", 2.0, 0.5, 2, 3)),
    ("http:/healthz,interval=1,timeout=0.2,rise=1,fall=2", health.CheckSpec("http", "/healthz", 1.0, 0.2, 1, 2)),
])
def test_parse(text, spec):
    assert health.parse_check_spec(text) == spec


@pytest.mark.parametrize("text,message", [
    ("ping", "must be tcp, http:/PATH or connect"), ("tcp,every=2", "unknown health check option"),
    ("tcp,rise=x", "rise must be a number"), ("tcp,fall=0", "fall must be positive"),
])
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=message):
        health.parse_check_spec(text)


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend(port):
    return backends.Backend(backends.parse_backend_spec(f"b{port}=http://127.0.0.1:{port}"))


def test_probes_against_real_sockets(server):
    up, down = backend(server.server_address[1]), backend(closed_port())
    tcp = health.parse_check_spec("tcp,timeout=0.5")
    http_ = health.parse_check_spec("http:/healthz,timeout=0.5")
    assert asyncio.run(health.probe(up, tcp)) and asyncio.run(health.probe(up, http_))
    assert not asyncio.run(health.probe(down, tcp))
    _Handler.status = 503
    try:
        assert not asyncio.run(health.probe(up, http_))
    finally:
        _Handler.status = 200


def test_rise_and_fall():
    b = backend(1)
    h = health.Health([b], health.parse_check_spec("tcp,rise=2,fall=3"))
    assert [h.record(b, False) for _ in range(3)] == [False, False, True] and not b.up
    assert [h.record(b, True) for _ in range(2)] == [False, True] and b.up


def test_passive_failure_needs_probes_to_come_back():
    b = backend(1)
    h = health.Health([b], health.parse_check_spec("tcp,rise=2"))
    assert h.mark_failed(b) and not b.up
    assert not h.record(b, True) and h.record(b, True) and b.up


def test_check_all_says_which_backends_changed(server):
    good, bad = backend(server.server_address[1]), backend(closed_port())
    h = health.Health([good, bad], health.parse_check_spec("tcp,interval=0.05,fall=1,rise=1"))
    assert asyncio.run(h.check_all()) == [bad]
    assert good.up and not bad.up
    assert asyncio.run(h.check_all()) == []


def _scripted(answer):
    """A server that accepts and then writes `answer` (or nothing, None) to every connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            if answer is not None:
                conn.sendall(answer)
            threading.Timer(2, conn.close).start()
    threading.Thread(target=serve, daemon=True).start()
    return srv


@pytest.mark.parametrize("answer", [b"\x00\x17garbage\r\n", None])
def test_tcp_wants_an_http_answer_where_connect_does_not(answer):
    srv = _scripted(answer)
    try:
        b = backend(srv.getsockname()[1])
        assert not asyncio.run(health.probe(b, health.parse_check_spec("tcp,timeout=0.3")))
        assert asyncio.run(health.probe(b, health.parse_check_spec("connect,timeout=0.3")))
    finally:
        srv.close()


def test_failed_requests_in_a_row_take_a_backend_down():
    b = backend(1)
    h = health.Health([b], health.parse_check_spec("tcp,fall=3"))
    assert [h.request_done(b, False) for _ in range(2)] == [False, False]
    assert not h.request_done(b, True)  # a good answer breaks the row
    assert [h.request_done(b, False) for _ in range(3)] == [False, False, True] and not b.up


@pytest.mark.parametrize("status,failed", [(200, False), (404, False), (500, True), (501, False), (502, True),
                                           (503, True), (504, True), (505, False)])
def test_which_answers_count_as_failed(status, failed):
    assert health.failed_answer(status) is failed
