"""Backend health: active probes (TCP connect or an HTTP GET of a path) with rise/fall counts,
passive marks from connection errors, and a quick last check before an upstream connection.

A backend goes down after `fall` failed probes in a row (or one passive failure, which a probe must
then undo `rise` times), and comes back up after `rise` good ones. Plain asyncio, no mitmproxy.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import NamedTuple

from stickyguard.addons.balancing.backends import Backend


class CheckSpec(NamedTuple):
    kind: str  # "tcp" or "http"
    path: str  # for http
    interval: float
    timeout: float
    rise: int
    fall: int


def parse_check_spec(text: str) -> CheckSpec:
    """`tcp`, `http:/healthz`, with `,interval=2,timeout=0.5,rise=2,fall=3` (seconds)."""
    head, *options = [p.strip() for p in text.split(",")]
    if head == "tcp":
        kind, path = "tcp", ""
    elif head.startswith("http:/"):
        kind, path = "http", head[len("http:"):]
    else:
        raise ValueError(f"health check must be tcp or http:/PATH, not {head!r}")
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


async def probe(backend: Backend, spec: CheckSpec) -> bool:
    """One probe: a TCP connection, or an HTTP GET answered below 500, within the timeout."""
    host, port = backend.spec.host, backend.spec.port
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), spec.timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        if spec.kind == "tcp":
            return True
        request = f"GET {spec.path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), spec.timeout)
        parts = status_line.split()
        return len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < 500
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

