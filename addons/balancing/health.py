"""Backend health: active probes with rise/fall counts, passive marks from real traffic, and a quick
last check before an upstream connection.

Probes: `tcp` (the default) connects and asks `HEAD /`, and wants any HTTP status line back within
the timeout, so a backend that accepts and then answers garbage or nothing fails it; `http:/PATH`
wants an answer below 500 to a GET of PATH; `connect` only connects (a backend that is not HTTP).

A backend goes down after `fall` failed probes in a row, or after `fall` failed requests in a row in
real traffic (a 5xx other than 501 and 505, a timeout, an answer that is not HTTP: HAProxy's
`observe layer7`), or at once when it refuses or resets a connection; probes bring it back after
`rise` good ones. Plain asyncio, no mitmproxy.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import NamedTuple

from stickyguard.addons.balancing.backends import Backend


class CheckSpec(NamedTuple):
    kind: str  # "tcp", "http" or "connect"
    path: str  # for http
    interval: float
    timeout: float
    rise: int
    fall: int


def parse_check_spec(text: str) -> CheckSpec:
    """`tcp`, `http:/healthz` or `connect`, with `,interval=2,timeout=0.5,rise=2,fall=3` (seconds)."""
    head, *options = [p.strip() for p in text.split(",")]
    if head in ("tcp", "connect"):
        kind, path = head, ""
    elif head.startswith("http:/"):
        kind, path = "http", head[len("http:"):]
    else:
        raise ValueError(f"health check must be tcp, http:/PATH or connect, not {head!r}")
    values = {"interval": 2.0, "timeout": 0.5, "rise": 2, "fall": 3}
    for option in options:
        key, eq, value = option.partition("=")
        if key not in values or not eq:
            raise ValueError(f"unknown health check option {option!r} (interval, timeout, rise, fall)")
        try:
            number = float(value) if key in ("interval", "timeout") else int(value)
        except ValueError:
            raise ValueError(f"health check {key} must be a number, not {value!r}") from None
        if number <= 0:
            raise ValueError(f"health check {key} must be positive")
        values[key] = number
    return CheckSpec(kind, path, values["interval"], values["timeout"], int(values["rise"]), int(values["fall"]))


@dataclasses.dataclass
class _Counter:
    good: int = 0
    bad: int = 0
    failed_requests: int = 0  # in a row, in real traffic


def failed_answer(status: int) -> bool:
    """A status that says the backend is in trouble (HAProxy's layer-7 errors: 5xx but 501 and 505,
    which answer the request, not the server's state)."""
    return status >= 500 and status not in (501, 505)


async def probe(backend: Backend, spec: CheckSpec) -> bool:
    """One probe within the timeout: a connection (`connect`), any HTTP answer to HEAD / (`tcp`), or an
    answer below 500 to a GET of the path (`http`)."""
    host, port = backend.spec.host, backend.spec.port
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), spec.timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        if spec.kind == "connect":
            return True
        method, path = ("GET", spec.path) if spec.kind == "http" else ("HEAD", "/")
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), spec.timeout)
        parts = status_line.split()
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or len(parts[1]) != 3 or not parts[1].isdigit():
            return False
        return spec.kind == "tcp" or int(parts[1]) < 500
    except (OSError, asyncio.TimeoutError, ValueError):
        return False
    finally:
        writer.close()


class Health:
    def __init__(self, backends: list[Backend], spec: CheckSpec):
        self.backends = backends
        self.spec = spec
        self._counts = {b.name: _Counter() for b in backends}

    def record(self, backend: Backend, ok: bool) -> bool:
        """Count one result; returns True when the backend changed state."""
        c = self._counts[backend.name]
        if ok:
            c.good, c.bad = c.good + 1, 0
            if not backend.up and c.good >= self.spec.rise:
                backend.up = True
                return True
        else:
            c.good, c.bad = 0, c.bad + 1
            if backend.up and c.bad >= self.spec.fall:
                backend.up = False
                return True
        return False

    def request_done(self, backend: Backend, ok: bool) -> bool:
        """A request in real traffic went well or failed; `fall` failures in a row take the backend down.
        Returns True when it changed state."""
        c = self._counts.get(backend.name)
        if c is None:  # a backend of an older configuration
            return False
        if ok:
            c.failed_requests = 0
            return False
        c.failed_requests += 1
        if backend.up and c.failed_requests >= self.spec.fall:
            return self.mark_failed(backend)
        return False

    def mark_failed(self, backend: Backend) -> bool:
        """A connection to the backend failed in real traffic: down now, probes bring it back."""
        self._counts[backend.name] = _Counter()
        changed = backend.up
        backend.up = False
        return changed

    async def check_all(self) -> list[Backend]:
        """Probe every backend once; the backends whose state changed."""
        results = await asyncio.gather(*(probe(b, self.spec) for b in self.backends))
        return [b for b, ok in zip(self.backends, results, strict=True) if self.record(b, ok)]

