"""ip: the client's address (or a prefix of it), keyed-hashed onto a consistent-hash ring with bounded
loads; no raw address is stored."""

from __future__ import annotations

import time
from collections import Counter
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import ClassVar

from stickyguard.addons.balancing import ring as ring_mod
from stickyguard.addons.balancing.affinity import Decision
from stickyguard.addons.balancing.affinity import Demo
from stickyguard.addons.balancing.affinity import Reason
from stickyguard.addons.balancing.affinity import RequestView
from stickyguard.addons.balancing.affinity import ResponseView
from stickyguard.addons.balancing.affinity import Setup
from stickyguard.addons.balancing.affinity import client_address
from stickyguard.addons.balancing.backends import Backend
from stickyguard.addons.balancing.backends import Pool
from stickyguard.addons.balancing.options import Option
from stickyguard.addons.balancing.options import between

MAX_CLIENTS = 1_000_000  # distinct clients remembered; the oldest are forgotten first


class Clients:
    """The distinct clients (keyed hashes, never addresses) each backend holds, forgotten after the
    idle timeout as sessions are: the loads the ring's bound reads."""

    def __init__(self, idle_timeout: float, limit: int = MAX_CLIENTS):
        self.idle_timeout, self.limit = idle_timeout, limit
        self._seen: OrderedDict[bytes, tuple[str, float]] = OrderedDict()  # least recently seen first
        self.loads: Counter[str] = Counter()

    def backend_of(self, key: bytes, now: float) -> str | None:
        """The backend `key` was pinned to, refreshed as seen now; None for a new or expired client."""
        self._expire(now)
        entry = self._seen.get(key)
        if entry is None:
            return None
        self._seen[key] = (entry[0], now)
        self._seen.move_to_end(key)
        return entry[0]

    def __len__(self) -> int:
        """Clients pinned: the sum of the loads."""
        return len(self._seen)

    def pin(self, key: bytes, name: str, now: float) -> None:
        old = self._seen.pop(key, None)
        if old is not None:
            self.loads[old[0]] -= 1
        elif len(self._seen) >= self.limit:
            self._forget(next(iter(self._seen)))
        self._seen[key] = (name, now)
        self.loads[name] += 1

    def _expire(self, now: float) -> None:
        while self._seen:
            key, (_, seen) = next(iter(self._seen.items()))
            if now - seen < self.idle_timeout:
                return
            self._forget(key)

    def _forget(self, key: bytes) -> None:
        name, _ = self._seen.pop(key)
        self.loads[name] -= 1


class IpAffinity:
    name: ClassVar[str] = "ip"
    help: ClassVar[str] = "the client's address or a prefix of it"
    options: ClassVar[Sequence[Any]] = (
        Option("balance_ip_prefix", int, 32, "IPv4 prefix length that ip affinity follows (e.g. 24).",
               check=between("balance_ip_prefix", 0, 32)),
        Option("balance_ip6_prefix", int, 64, "IPv6 prefix length that ip affinity follows.",
               check=between("balance_ip6_prefix", 0, 128)),
    )
    # The demo's shoppers stand behind a (pretend) trusted proxy on loopback that names each of them.
    demo: ClassVar[Demo] = Demo(options={"balance_trusted_proxies": ["127.0.0.1/32", "::1/128"]}, forwarded_for=True)

    def __init__(self, pool: Pool, secret: bytes, prefix_v4: int = 32, prefix_v6: int = 64, epsilon: float = 0.25,
                 trusted_proxies: tuple[str, ...] = (), idle_timeout: float = 1800,
                 clock: Callable[[], float] = time.monotonic):
        self.pool = pool
        self.prefix_v4, self.prefix_v6 = prefix_v4, prefix_v6
        self.trusted_proxies = trusted_proxies
        self.ring = ring_mod.Ring({b.name: b.spec.weight for b in pool.backends.values()}, secret, epsilon)
        self.clients = Clients(idle_timeout)
        self.clock = clock

    @classmethod
    def build(cls, setup: Setup) -> IpAffinity:
        o = setup.options
        return cls(setup.pool, setup.secrets[0], o["balance_ip_prefix"], o["balance_ip6_prefix"],
                   trusted_proxies=tuple(o["balance_trusted_proxies"]), idle_timeout=o["balance_idle_timeout"])

    def route(self, client: str) -> Decision:
        """A known client keeps its backend while that is up; a new one goes to the first backend
        clockwise under its capacity, counted in distinct clients (so the bound binds)."""
        key = ring_mod.client_key(client, self.prefix_v4, self.prefix_v6)
        now = self.clock()
        known = self.clients.backend_of(key, now)
        previous = self.pool.backends.get(known) if known else None
        if previous is not None and previous.up:
            return Decision(previous, Reason.STICKY)
        name = self.ring.lookup(key, self.clients.loads, self.pool.unavailable(), total=len(self.clients))
        backend = self.pool.backends[name]
        self.clients.pin(key, backend.name, now)
        if known is None:
            return Decision(backend, Reason.NEW)
        self.pool.move(previous, backend)
        return Decision(backend, Reason.MOVED)

    async def decide(self, request: RequestView) -> Decision:
        return self.route(client_address(request.peer, request.header_all("x-forwarded-for"), self.trusted_proxies))

    async def respond(self, request: RequestView, response: ResponseView, decision: Decision,
                      served: Backend) -> list[str]:
        return []
