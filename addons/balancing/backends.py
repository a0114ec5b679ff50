"""Backends: what an operator writes (`app1=http://10.0.0.11:8080,weight=2,route=node1`), and the
pool's state (weight, health, draining, load) with the policies that place new sessions.

New sessions go to backends that are up and not draining: the less loaded of two picked at random
by weight ("power of two choices"), or round robin in proportion to weight. Plain logic, no
mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

POLICIES = ("p2c", "round-robin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class BackendSpec(NamedTuple):
    name: str
    scheme: str
    host: str
    port: int
    weight: int
    route: str  # the route id a session carries (jvmRoute suffix, path parameter, header)


def parse_backend_spec(text: str) -> BackendSpec:
    """`NAME=URL[,weight=N][,route=ID]`; raises ValueError saying what is wrong."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not rest:
        raise ValueError(f"expected NAME=URL, got {text!r}")
    if not _NAME.match(name):
        raise ValueError(f"backend name {name!r}: letters, digits, '.', '_' and '-' only, at most 64")
    url, *options = [p.strip() for p in rest.split(",")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"backend {name}: not an http(s) URL with a host: {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"backend {name}: a backend URL has no path or query: {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"backend {name}: bad port in {url!r}") from None
    weight, route = 1, name
    for option in options:
        key, eq, value = option.partition("=")
        if key == "weight" and eq and value.isdigit() and 0 < int(value) <= 1000:
            weight = int(value)
        elif key == "route" and eq and _NAME.match(value):
            route = value
        else:
            raise ValueError(f"backend {name}: unknown or bad option {option!r} (weight=1..1000, route=ID)")
    return BackendSpec(name, parts.scheme, parts.hostname, port, weight, route)


_PLACEMENT_FIELDS = frozenset({"up", "draining", "spec"})  # what changes where new sessions may go


@dataclasses.dataclass
class Backend:
    spec: BackendSpec
    up: bool = True
    draining: bool = False
    sessions: int = 0
    requests: int = 0
    moves_in: int = 0
    moves_out: int = 0
    on_change: Callable[[], None] | None = dataclasses.field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name in _PLACEMENT_FIELDS and self.on_change is not None:
            self.on_change()  # the pool forgets its list of available backends

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def available(self) -> bool:
        """May take new sessions."""
        return self.up and not self.draining


class Pool:
    def __init__(self, specs: Iterable[BackendSpec], policy: str = "p2c", rng: random.Random | None = None):
        self.backends: dict[str, Backend] = {}
        for spec in specs:
            if spec.name in self.backends:
                raise ValueError(f"backend {spec.name} is named twice")
            self.backends[spec.name] = Backend(spec, on_change=self._changed)
        if not self.backends:
            raise ValueError("at least one backend is needed")
        routes = [b.spec.route for b in self.backends.values()]
        if len(set(routes)) != len(routes):
            raise ValueError("two backends have the same route id")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
        self.policy = policy
        self.rng = rng or random.Random()
        self._rr = 0
        # Rebuilt after a backend's health, drain state or weight changes, not per request: placing a
        # session costs the same with 3 backends or 1,000.
        self._available: list[Backend] | None = None
        self._cum_weights: list[int] = []
        self._unavailable: frozenset[str] = frozenset()
        self._ring: list[Backend] = []

    def _changed(self) -> None:
        self._available = None

    def _refresh(self) -> list[Backend]:
        if self._available is None:
            available = [b for b in self.backends.values() if b.available]
            self._cum_weights = list(itertools.accumulate(b.spec.weight for b in available))
            self._unavailable = frozenset(b.name for b in self.backends.values() if not b.available)
            self._ring = [b for b in available for _ in range(b.spec.weight)]
            self._available = available
        return self._available

    def by_route(self, route: str) -> Backend | None:
        return next((b for b in self.backends.values() if b.spec.route == route), None)

    def unavailable(self) -> frozenset[str]:
        """The names of the backends that take no new sessions (down or draining)."""
        self._refresh()
        return self._unavailable

    def place(self, exclude: Collection[str] = ()) -> Backend:
        """A backend for a new session, not one named in `exclude`; raises LookupError when none is up
        and not draining."""
        candidates = self._refresh()
        cum_weights: list[int] | None = self._cum_weights
        ring = self._ring
        if exclude:  # a retry: a few names, so this list is short-lived
            candidates = [b for b in candidates if b.name not in exclude]
            cum_weights = None
            ring = [b for b in candidates for _ in range(b.spec.weight)]
        if not candidates:
            raise LookupError("no backend is up and accepting new sessions")
        if self.policy == "round-robin":
            self._rr = (self._rr + 1) % len(ring)
            return ring[self._rr]
        if cum_weights is None:
            first, second = self.rng.choices(candidates, [b.spec.weight for b in candidates], k=2)
        else:
            first, second = self.rng.choices(candidates, cum_weights=cum_weights, k=2)
        # Less loaded relative to its weight; ties go to the first pick.
        return min((first, second), key=lambda b: b.sessions / b.spec.weight)

    def move(self, source: Backend | None, target: Backend) -> None:
        """Count a session moved from `source` (down, removed, or gone) to `target`."""
        target.moves_in += 1
        if source is not None:
            source.moves_out += 1

    def spread(self) -> dict[str, float]:
        """Sessions per unit of weight across available backends: max/mean and Jain's fairness index."""
        shares = [b.sessions / b.spec.weight for b in self.backends.values() if b.up]
        if not shares or not any(shares):
            return {"max_mean": 1.0, "jain": 1.0}
        mean = sum(shares) / len(shares)
        jain = sum(shares) ** 2 / (len(shares) * sum(s * s for s in shares))
        return {"max_mean": max(shares) / mean, "jain": jain}
