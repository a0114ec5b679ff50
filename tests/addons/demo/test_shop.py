import http.client
import json
import signal
import subprocess
import sys
import threading

import pytest

from stickyguard.addons.demo import shop as demo_shop


@pytest.fixture
def shop():
    server = demo_shop.make_server("app7", "r7")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def call(port, method, path, body=None, cookie=None, accept="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Accept": accept}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_a_session_gets_a_route_suffixed_cookie_and_keeps_its_cart(shop):
    resp, data = call(shop, "GET", "/")
    cookie = resp.getheader("Set-Cookie")
    assert cookie.startswith("JSESSIONID=") and ".r7; Path=/; HttpOnly" in cookie
    sid = cookie.split(";")[0].split("=", 1)[1]
    assert json.loads(data) == {"backend": "app7", "session": sid, "cart": [], "new_session": True}
    call(shop, "POST", "/cart", b"item=apple", cookie=f"JSESSIONID={sid}")
    resp, data = call(shop, "POST", "/cart", b"item=bread", cookie=f"JSESSIONID={sid}")
    assert resp.getheader("Set-Cookie") is None  # a known session is not re-issued
    assert json.loads(data)["cart"] == ["apple", "bread"]
    _, data = call(shop, "GET", "/cart", cookie=f"JSESSIONID={sid}")
    assert json.loads(data)["cart"] == ["apple", "bread"]


def test_an_unknown_session_starts_over_with_an_empty_cart(shop):
    resp, data = call(shop, "POST", "/cart", b"item=figs", cookie="JSESSIONID=ABC.other")
    answer = json.loads(data)
    assert answer["new_session"] and answer["cart"] == ["figs"] and answer["session"].endswith(".r7")
    resp, _ = call(shop, "GET", "/cart", cookie="JSESSIONID=\"broken")  # an unparsable header is no session
    assert resp.status == 200 and resp.getheader("Set-Cookie")


def test_the_page_form_and_health(shop):
    resp, page = call(shop, "GET", "/", accept="text/html")
    assert resp.status == 200 and b"Served by <code>app7</code>" in page and b"<form method=post" in page
    sid = resp.getheader("Set-Cookie").split(";")[0]
    resp, _ = call(shop, "POST", "/cart", b"item=%3Cb%3E", cookie=sid, accept="text/html")
    assert resp.status == 303 and resp.getheader("Location") == "/"
    _, page = call(shop, "GET", "/", cookie=sid, accept="text/html")
    assert b"<li>&lt;b&gt;</li>" in page  # what a client sent is escaped
    assert call(shop, "GET", "/health")[1] == b"ok\n"
    assert call(shop, "GET", "/nope")[0].status == 404
    assert call(shop, "POST", "/nope", b"")[0].status == 404


def test_runs_as_a_process_and_stops_quietly_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "stickyguard.addons.demo.shop", "--name", "x", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("listening on 127.0.0.1:")
    port = int(line.rsplit(":", 1)[1])
    assert call(port, "GET", "/health")[1] == b"ok\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and err == ""


def test_a_port_in_use_is_a_clear_error(shop):
    proc = subprocess.run([sys.executable, "-m", "stickyguard.addons.demo.shop", "--name", "x", "--port", str(shop)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"demo_shop: cannot listen on 127.0.0.1:{shop}: ") and "Traceback" not in proc.stderr
