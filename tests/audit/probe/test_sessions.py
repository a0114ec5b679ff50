"""Sessions against a real loopback server: bounded, cookies kept as a browser keeps them, source addresses
taken in turn, and a stop keeps what was learned."""

import http.server
import threading

import pytest

from stickyguard.audit.probe import sessions


class Site(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):
        Site.seen.append((self.client_address[0], self.headers.get("Cookie")))
        self.send_response(200)
        if not self.headers.get("Cookie"):
            self.send_header("Set-Cookie", "SERVERID=b1; Path=/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


@pytest.fixture
def site():
    Site.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fresh_then_returning_with_the_cookies_given(site):
    plan = sessions.Plan(site, sessions=4, returns=2, sources=("127.0.0.2", "127.0.0.3"), rate=200)
    got = sessions.run(plan)
    assert len(got) == plan.requests == 12
    assert [v.sent for v in got if v.step == 0] == [()] * 4
    assert all(v.sent == (("SERVERID", "b1"),) for v in got if v.step)
    assert {src for src, _ in Site.seen} == {"127.0.0.2", "127.0.0.3"}


def test_a_stop_keeps_what_was_learned(site):
    stop = threading.Event()
    plan = sessions.Plan(site, sessions=50, returns=3, rate=20, concurrency=2)
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    got = sessions.run(plan, stop=stop)
    timer.cancel()
    assert 0 < len(got) < plan.requests


def test_bounds_are_checked():
    assert sessions.Plan("http://x/", sessions=1000, returns=3).problems()
    assert sessions.Plan("http://x/", rate=0).problems()
    assert not sessions.Plan("http://x/").problems()
