"""The demo's backend: a small stateful shop, so a session that loses its backend is visible.

Each process keeps its carts in memory and sets its own session cookie with a jvmRoute-style
suffix (`JSESSIONID=<id>.<route>`), as Tomcat behind mod_proxy_balancer does. A request whose
session this process does not know (another backend's, or one it lost by dying) starts a new
session with an empty cart.

    python -m stickyguard.addons.demo.shop --name app1 --port 0      # prints "listening on 127.0.0.1:PORT"

    GET  /          the shop page (HTML), or the session as JSON with Accept: application/json
    POST /cart      item=NAME adds to the cart; JSON back, or a redirect to / from the page's form
    GET  /cart      the session as JSON
    GET  /health    200 "ok"
"""

from __future__ import annotations

import argparse
import html
import http.cookies
import http.server
import json
import secrets
import signal
import sys
import threading
from urllib.parse import parse_qs

COOKIE = "JSESSIONID"
ITEMS = ("apple", "bread", "cheese", "dates", "eggs", "figs", "grapes", "honey")


class Shop:
    """The carts of one backend process, by session id."""

    def __init__(self, name: str, route: str):
        self.name = name
        self.route = route
        self.carts: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def session(self, cookie_header: str | None) -> tuple[str, bool]:
        """The request's session id, and whether it was started now."""
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(cookie_header or "")
        except http.cookies.CookieError:
            pass
        sid = jar[COOKIE].value if COOKIE in jar else ""
        with self.lock:
            if sid in self.carts:
                return sid, False
            sid = f"{secrets.token_hex(16).upper()}.{self.route}"
            self.carts[sid] = []
            return sid, True

    def add(self, sid: str, item: str) -> None:
        with self.lock:
            self.carts[sid].append(item)

    def view(self, sid: str) -> dict:
        with self.lock:
            return {"backend": self.name, "session": sid, "cart": list(self.carts[sid])}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as browsers and balancers use it
    shop: Shop

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send(200, b"ok\n", "text/plain")
            return
        if path not in ("/", "/cart"):
            self._send(404, b"not found\n", "text/plain")
            return
        sid, new = self.shop.session(self.headers.get("Cookie"))
        if path == "/cart" or "application/json" in self.headers.get("Accept", ""):
            self._send_json(sid, new)
        else:
            self._send(200, self._page(sid).encode(), "text/html; charset=utf-8", sid if new else None)

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] != "/cart":
            self._send(404, b"not found\n", "text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(min(length, 4096)).decode("utf-8", "replace"))
        item = (form.get("item") or [""])[0].strip()[:40]
        sid, new = self.shop.session(self.headers.get("Cookie"))
        if item:
            self.shop.add(sid, item)
        if "application/json" in self.headers.get("Accept", ""):
            self._send_json(sid, new)
            return
        self.send_response(303)
        self.send_header("Location", "/")
        self._session_cookie(sid if new else None)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_json(self, sid: str, new: bool) -> None:
        body = json.dumps(self.shop.view(sid) | {"new_session": new}).encode()
        self._send(200, body, "application/json", sid if new else None)

    def _send(self, status: int, body: bytes, kind: str, new_sid: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Cache-Control", "no-store")
        self._session_cookie(new_sid)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _session_cookie(self, sid: str | None) -> None:
        if sid:
            self.send_header("Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax")

    def _page(self, sid: str) -> str:
        view = self.shop.view(sid)
        cart = "".join(f"<li>{html.escape(i)}</li>" for i in view["cart"]) or "<li><em>empty</em></li>"
        buttons = "".join(f'<button name="item" value="{i}">{i}</button> ' for i in ITEMS)
        name = html.escape(self.shop.name)
        return (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>demo shop: {name}</title>"
            "<body style='font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em'>"
            f"<h1>Served by <code>{name}</code></h1>"
            f"<p>Session <code>{html.escape(sid)}</code>. This backend keeps carts in its memory: "
            "if stickiness broke, the cart below would empty.</p>"
            f"<h2>Cart</h2><ul>{cart}</ul>"
            f"<form method=post action=/cart>Add: {buttons}</form>"
            "<p>Reload a few times: every page comes from the same backend.</p></body></html>"
        )

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        pass


def make_server(name: str, route: str, host: str = "127.0.0.1", port: int = 0) -> http.server.ThreadingHTTPServer:
    handler = type("ShopHandler", (Handler,), {"shop": Shop(name, route)})
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(name: str, route: str, host: str, port: int) -> None:
    server = make_server(name, route, host, port)
    print(f"listening on {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stickyguard.addons.demo.shop", description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the backend's name, shown on its pages")
    parser.add_argument("--route", help="the jvmRoute suffix of its session ids (default: the name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    args = parser.parse_args(argv)
    # A stop by signal is the normal end of this process: no traceback.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(args.name, args.route or args.name, args.host, args.port)
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print(f"demo_shop: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
