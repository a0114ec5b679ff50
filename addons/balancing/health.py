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
import ipaddress
import random
import socket
import time
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


PROBERS = 32  # probes in flight at once
PROBE_RATE = 100  # probes a second at most: past 200 backends at a 2 s interval, each is probed less often


@dataclasses.dataclass
class _Counter:
    good: int = 0
    bad: int = 0
    failed_requests: int = 0  # in a row, in real traffic
    answered: float = float("-inf")  # when it last answered real traffic well (monotonic)
    probed: float = float("-inf")  # when it was last probed (monotonic)


def failed_answer(status: int) -> bool:
    """A status that says the backend is in trouble (HAProxy's layer-7 errors: 5xx but 501 and 505,
    which answer the request, not the server's state)."""
    return status >= 500 and status not in (501, 505)


async def probe(backend: Backend, spec: CheckSpec) -> bool:
    """One probe within the timeout: a connection (`connect`), any HTTP answer to HEAD / (`tcp`), or an
    answer below 500 to a GET of the path (`http`)."""
    host, port = backend.spec.host, backend.spec.port
    loop = asyncio.get_running_loop()
    # A bare non-blocking socket, not asyncio's streams: a probe of 1,000 backends every 2 s is most of
    # what it costs, and a stream's protocol, transport, reader and writer cost more than the probe.
    try:
        family, address = _literal(host, port) or await _resolve(loop, host, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    sock.setblocking(False)
    try:
        async with asyncio.timeout(spec.timeout):
            await loop.sock_connect(sock, address)
            if spec.kind == "connect":
                return True
            method, path = ("GET", spec.path) if spec.kind == "http" else ("HEAD", "/")
            await loop.sock_sendall(sock, f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                                    .encode())
            answer = await loop.sock_recv(sock, 64)
        parts = answer.split(b"\r\n", 1)[0].split()
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or len(parts[1]) != 3 or not parts[1].isdigit():
            return False
        return spec.kind == "tcp" or int(parts[1]) < 500
    except (OSError, TimeoutError, ValueError):
        return False
    finally:
        sock.close()


def _literal(host: str, port: int) -> tuple[socket.AddressFamily, tuple] | None:
    """An IP address needs no lookup (getaddrinfo runs on a thread: most of a probe's cost)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return (socket.AF_INET, (host, port)) if ip.version == 4 else (socket.AF_INET6, (host, port, 0, 0))


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> tuple[socket.AddressFamily, tuple]:
    family, _, _, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))[0]
    return family, address


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
            c.answered = time.monotonic()
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
        """Probe each backend once, except one that is up and answered real traffic well since the last
        round (the traffic was its probe). A round probes at most PROBE_RATE x interval backends, those
        probed longest ago first, at most PROBERS at a time: 1,000 idle backends cost about 1 % of a core
        (bench/health_cost.py) and each is probed every 10 s instead of 2. Returns the backends whose
        state changed."""
        now = time.monotonic()
        since = now - self.spec.interval
        due = [b for b in self.backends if not b.up or self._counts[b.name].answered < since]
        due.sort(key=lambda b: self._counts[b.name].probed)
        due = due[:max(int(PROBE_RATE * self.spec.interval), 1)]
        random.shuffle(due)  # no backend always probed first
        changed: list[Backend] = []

        async def prober(share: list[Backend]) -> None:
            for b in share:
                self._counts[b.name].probed = now
                if self.record(b, await probe(b, self.spec)):
                    changed.append(b)

        await asyncio.gather(*(prober(due[i::PROBERS]) for i in range(min(PROBERS, len(due)))))
        return changed

