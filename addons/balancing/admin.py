"""The balancer's runtime API: status, drain, undrain, reload and set-weight as HTTP on a Unix socket
(created 0600: the file's owner is the only client) or on a loopback TCP port that wants a token, with
Prometheus metrics (/metrics) and a status page (/) on the same listener. `stickyguard ctl` is its
client. Plain asyncio; the balancer hands it the controls.

    GET  /            the status page (HTML, refreshes itself)     GET  /status   the same as JSON
    GET  /metrics     Prometheus text format                        POST /reload
    POST /backends/NAME/drain, /backends/NAME/undrain, /backends/NAME/weight?value=N
"""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from typing import NamedTuple
from typing import Protocol
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

from stickyguard.addons.balancing.sealing import create_secret_file

HEAD_LIMIT = 16 * 1024
READ_TIMEOUT = 5.0


class Controls(Protocol):
    def snapshot(self) -> dict[str, Any]: ...
    def metrics(self) -> bytes: ...
    def drain(self, name: str) -> None: ...
    def undrain(self, name: str) -> None: ...
    def reload(self) -> None: ...
    def set_weight(self, name: str, weight: int) -> None: ...


class Address(NamedTuple):
    kind: str  # "unix" or "tcp"
    path: str  # the socket file (unix)
    host: str  # tcp
    port: int  # tcp


def parse_address(text: str) -> Address:
    """`unix:PATH` or a path (with a `/`), or `HOST:PORT` on a loopback address; ValueError otherwise."""
    text = text.strip()
    if text.startswith("unix:") or "/" in text:
        path = text.removeprefix("unix:")
        if not path:
            raise ValueError("admin: unix: needs a socket path")
        return Address("unix", str(Path(path).expanduser()), "", 0)
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"admin: expected unix:PATH or 127.0.0.1:PORT, not {text!r}")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"admin: a TCP admin port listens on loopback only (127.0.0.1, ::1), not {host!r}")
    return Address("tcp", "", host, int(port))


def load_or_create_token(path: Path) -> str:
    """The TCP listener's token from `path`, or a new random one written there 0600 (folder 0700)."""
    try:
        if path.stat().st_mode & 0o077:
            raise ValueError(f"{path} is readable or writable by other users; chmod 600 it")
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = create_secret_file(path)
    if len(token) < 16:
        raise ValueError(f"{path}: the admin token must be at least 16 characters")
    return token


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(0.5)
        return s.connect_ex(str(path)) == 0


class _Answer(NamedTuple):
    status: int
    content_type: str
    body: bytes


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error"}


def _json(status: int, data: Any) -> _Answer:
    return _Answer(status, "application/json", (json.dumps(data, indent=2) + "\n").encode())


class AdminServer:
    def __init__(self, controls: Controls, address: Address, token: str | None,
                 metrics_type: str = "text/plain; version=0.0.4; charset=utf-8"):
        if address.kind == "tcp" and not token:
            raise ValueError("admin: a TCP admin port needs a token")
        self.controls, self.address, self.token = controls, address, token
        self.metrics_type = metrics_type
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        if self.address.kind == "unix":
            path = Path(self.address.path)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path.is_socket():
                if _answers(path):
                    raise OSError(f"another balancer's runtime API answers on {path}")
                path.unlink()  # a previous run's socket, left behind
            old = os.umask(0o177)  # the socket file is 0600 from its creation, not after a chmod
            try:
                self._server = await asyncio.start_unix_server(self._serve, str(path), limit=HEAD_LIMIT)
            finally:
                os.umask(old)
        else:
            self._server = await asyncio.start_server(self._serve, self.address.host, self.address.port,
                                                      limit=HEAD_LIMIT)

    @property
    def port(self) -> int:
        """The TCP port actually bound (port 0 picks one)."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            if self.address.kind == "unix":
                Path(self.address.path).unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            answer = self._answer(head.decode("latin-1"))
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            answer = _json(400, {"error": "an HTTP/1.1 request head of at most 16 KiB, sent within 5 s"})
        except Exception as e:  # a control that fails is an answer, never a dead listener
            answer = _json(500, {"error": f"{type(e).__name__}: {e}"})
        reason = _REASONS.get(answer.status, "")
        writer.write(f"HTTP/1.1 {answer.status} {reason}\r\ncontent-type: {answer.content_type}\r\n"
                     f"content-length: {len(answer.body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n"
                     .encode() + answer.body)
        try:
            await writer.drain()
        except OSError:
            pass
        writer.close()

    def _answer(self, head: str) -> _Answer:
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3:
            return _json(400, {"error": "malformed request line"})
        method, target, _ = parts
        url = urlsplit(target)
        query = parse_qs(url.query)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines) if k}
        if self.token is not None and not self._authorised(headers, query):
            return _json(401, {"error": "a token is needed: Authorization: Bearer TOKEN (or ?token= for the page)"})
        path = [unquote(p) for p in url.path.split("/") if p]
        route = self._route(method, path, query)
        return route if route is not None else _json(404, {"error": f"no {method} {url.path}"})

    def _authorised(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        given = headers.get("authorization", "").removeprefix("Bearer ").strip() or (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), (self.token or "").encode())

    def _route(self, method: str, path: list[str], query: dict[str, list[str]]) -> _Answer | None:
        c = self.controls
        if method == "GET":
            if not path:
                return _Answer(200, "text/html; charset=utf-8", status_page(c.snapshot()).encode())
            if path == ["status"]:
                return _json(200, c.snapshot())
            if path == ["metrics"]:
                return _Answer(200, self.metrics_type, c.metrics())
            return None
        if method != "POST":
            return _json(405, {"error": "GET to read, POST to act"})
        if path == ["reload"]:
            return self._act(c.reload)
        if len(path) == 3 and path[0] == "backends":
            name, action = path[1], path[2]
            if action == "drain":
                return self._act(lambda: c.drain(name))
            if action == "undrain":
                return self._act(lambda: c.undrain(name))
            if action == "weight":
                value = (query.get("value") or [""])[0]
                if not value.isdigit() or not 0 < int(value) <= 1000:
                    return _json(400, {"error": "weight?value=N with N in 1..1000"})
                return self._act(lambda: c.set_weight(name, int(value)))
        return None

    def _act(self, action: Callable[[], None]) -> _Answer:
        try:
            action()
        except (LookupError, ValueError) as e:
            message = str(e.args[0]) if e.args else str(e)  # (str() of a KeyError adds quotes)
            return _json(404 if isinstance(e, LookupError) else 400, {"error": message})
        return _json(200, {"ok": True, "status": self.controls.snapshot()})


def status_page(state: dict[str, Any]) -> str:
    """A page an operator opens in a browser: the backends and the routing counts, refreshed every 5 s."""
    rows = "".join(
        f"<tr><td>{html.escape(b['name'])}</td><td>{html.escape(b['address'])}</td>"
        f"<td class='{'up' if b['up'] else 'down'}'>{'up' if b['up'] else 'down'}"
        f"{', draining' if b['draining'] else ''}</td><td>{b['weight']}</td><td>{b['sessions']}</td>"
        f"<td>{b['requests']}</td><td>{b['in_flight']}</td><td>{b['moved_in']} / {b['moved_out']}</td></tr>"
        for b in state["backends"])
    counts = _listed(state["counts"])
    spread = state["spread"]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='refresh' content='5'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>stickyguard balancer</title>"
        "<style>body{font:15px system-ui,sans-serif;margin:1.5rem}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}.up{color:#1e7b34}.down{color:#b03a2e}"
        "</style></head><body>"
        f"<h1>stickyguard balancer</h1><p>Affinity: {html.escape(state['kind'])}. Spread: max/mean "
        f"{spread['max_mean']:.2f}, Jain {spread['jain']:.3f}.</p>"
        "<table><tr><th>Backend</th><th>Address</th><th>State</th><th>Weight</th><th>Sessions</th>"
        f"<th>Requests</th><th>In flight</th><th>Moved in / out</th></tr>{rows}</table>"
        f"<p>Decisions: {counts}.</p><p>Retried on another backend: {_listed(state['retries'])}. Failed and "
        f"not retried: {_listed(state['not_retried'])}.</p><p><a href='metrics'>Prometheus metrics</a></p>"
        "</body></html>\n")


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{html.escape(k)} {v}" for k, v in sorted(counts.items())) or "none"
