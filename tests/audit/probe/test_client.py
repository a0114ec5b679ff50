"""One probe request against a real loopback server."""

import http.server
import threading

from stickyguard.audit.probe import client


class Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Set-Cookie", "a=1; Path=/")
        self.send_header("Set-Cookie", "b=2; Path=/")
        self.send_header("X-Seen", f"{self.client_address[0]} {self.headers.get('Cookie')} {self.headers['User-Agent']}")
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *a):
        pass


def test_a_request_with_cookies_from_a_chosen_source():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = client.fetch(f"http://127.0.0.1:{server.server_address[1]}/x?y=1", {"s": "v"}, "probe/1", 5,
                              source="127.0.0.7")
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status == 200 and answer.set_cookie_lines() == ["a=1; Path=/", "b=2; Path=/"]
    assert answer.header("x-seen") == "127.0.0.7 s=v probe/1"
    assert answer.body_digest and answer.at > 0 and answer.error is None


def test_no_answer_says_why_without_the_address():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    answer = client.fetch(f"http://127.0.0.1:{port}/", {}, "probe/1", 2)
    assert answer.status is None and answer.error == "Connection refused" and str(port) not in answer.error
