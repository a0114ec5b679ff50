"""Affinity strategies, one per kind: the balancer's own sealed cookie, a learned application
cookie, the client's address, and a route id the session carries. Each says which backend a
request belongs to and why; placing new sessions is the pool's job. Plain logic, no mitmproxy.

Decisions carry a `reason` for counting: `new`, `sticky`, `moved` (its backend is down or gone),
or `rejected:<why>` (a tampered, forged, expired or foreign-key cookie, re-pinned by the pool).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from collections.abc import Sequence

from stickyguard.addons.balancing import ring as ring_mod
from stickyguard.addons.balancing import sealing
from stickyguard.addons.balancing.backends import Backend
from stickyguard.addons.balancing.backends import Pool
from stickyguard.addons.balancing.store import Store

KINDS = ("cookie", "app-cookie", "ip", "route")


@dataclasses.dataclass
class Decision:
    backend: Backend
    reason: str
    set_cookie: bool = False  # the balancer's own cookie should be (re)issued on the response
    issued_at: int | None = None  # keep the session's start when re-sealing


def _placed(pool: Pool, reason: str, previous: Backend | None = None) -> Decision:
    backend = pool.place()
    if previous is not None:
        pool.move(previous, backend)
    return Decision(backend, reason, set_cookie=True)


class CookieAffinity:
    """The balancer inserts an opaque, authenticated token (addons/sealing.py)."""

    kind = "cookie"

    def __init__(self, pool: Pool, sealer: sealing.Sealer):
        self.pool = pool
        self.sealer = sealer

    def route(self, token: str | None) -> Decision:
        if not token:
            return _placed(self.pool, "new")
        try:
            opened = self.sealer.open(token)
        except sealing.InvalidToken as e:
            return _placed(self.pool, f"rejected:{e.reason}")
        backend = self.pool.backends.get(opened.backend)
        if backend is None or not backend.up:
            return _placed(self.pool, "moved", backend)
        refresh = opened.needs_refresh(self.sealer.clock(), self.sealer.idle_timeout)
        return Decision(backend, "sticky", set_cookie=refresh, issued_at=opened.issued_at)

    def cookie_value(self, decision: Decision) -> str:
        return self.sealer.seal(decision.backend.name, decision.issued_at)


class AppCookieAffinity:
    """Learns application session id -> backend from Set-Cookie; keys are keyed hashes of the ids."""

    kind = "app-cookie"

    def __init__(self, pool: Pool, store: Store, cookie_name: str, secret: bytes,
                 idle_timeout: int = 30 * 60):
        self.pool = pool
        self.store = store
        self.cookie_name = cookie_name
        self.secret = secret
        self.idle_timeout = idle_timeout

    def key(self, value: str) -> str:
        return "app:" + hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:32]

    async def route(self, value: str | None) -> Decision:
        if not value:
            return _placed(self.pool, "new")
        name = await self.store.get(self.key(value))
        if name is None:
            return _placed(self.pool, "new")
        backend = self.pool.backends.get(name)
        if backend is None or not backend.up:
            decision = _placed(self.pool, "moved", backend)
            await self.learn(value, decision.backend.name, None)
            return decision
        await self.store.set(self.key(value), name, self.idle_timeout)  # touch: the idle clock restarts
        return Decision(backend, "sticky")

    async def learn(self, value: str, backend: str, lifetime: int | None) -> None:
        """From the backend's Set-Cookie: remember, or forget when the app deletes the cookie."""
        if lifetime is not None and lifetime <= 0:
            await self.store.delete(self.key(value))
            return
        ttl = self.idle_timeout if lifetime is None else min(lifetime, self.idle_timeout)
        await self.store.set(self.key(value), backend, ttl)


class IpAffinity:
    """The client's address (or a prefix of it), keyed-hashed onto a ring with bounded loads."""

    kind = "ip"

    def __init__(self, pool: Pool, secret: bytes, prefix_v4: int = 32, prefix_v6: int = 64, epsilon: float = 0.25):
        self.pool = pool
        self.prefix_v4, self.prefix_v6 = prefix_v4, prefix_v6
        self.ring = ring_mod.Ring({b.name: b.spec.weight for b in pool.backends.values()}, secret, epsilon)

    def route(self, client: str) -> Decision:
        key = ring_mod.client_key(client, self.prefix_v4, self.prefix_v6)
        unavailable = {b.name for b in self.pool.backends.values() if not b.available}
        loads = {b.name: b.sessions for b in self.pool.backends.values()}
        name = self.ring.lookup(key, loads, unavailable)
        return Decision(self.pool.backends[name], "sticky")


def _networks(trusted: Iterable[str]) -> list:
    return [ipaddress.ip_network(t, strict=False) for t in trusted]


def _within(addr: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def forwarded_https(peer: str, forwarded_proto: Sequence[str], trusted: Iterable[str]) -> bool:
    """A trusted TLS terminator in front of us says the client spoke HTTPS (`X-Forwarded-Proto`,
    the value the last hop added)."""
    hops = [h.strip().lower() for header in forwarded_proto for h in header.split(",")]
    return bool(hops) and hops[-1] == "https" and _within(peer, _networks(trusted))


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Iterable[str]) -> str:
    """The client: the TCP peer, unless it is a trusted proxy; then X-Forwarded-For read right to
    left, skipping trusted hops, ignoring invalid entries."""
    networks = _networks(trusted)
    if not _within(peer, networks):
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            continue
        if not _within(hop, networks):
            return hop
    return peer


_JSESSIONID_PARAM = re.compile(r";jsessionid=[^;/?#]*\.([A-Za-z0-9_.-]+)", re.IGNORECASE)


class RouteAffinity:
    """A route id carried by the session: a `.route` suffix on the session cookie (Tomcat
    jvmRoute), the same in a `;jsessionid=` path parameter, a query parameter, or a header."""

    kind = "route"

    def __init__(self, pool: Pool, cookie_name: str = "JSESSIONID", query_param: str | None = None,
                 header: str | None = None):
        self.pool = pool
        self.cookie_name = cookie_name
        self.query_param = query_param
        self.header = header

    def route_id(self, path: str, cookie: str | None, query: dict[str, str], headers: dict[str, str]) -> str | None:
        if cookie and "." in cookie:
            return cookie.rsplit(".", 1)[1]
        m = _JSESSIONID_PARAM.search(path)
        if m:
            return m.group(1)
        if self.query_param and query.get(self.query_param):
            return query[self.query_param]
        if self.header and headers.get(self.header.lower()):
            return headers[self.header.lower()]
        return None

    def route(self, route_id: str | None) -> Decision:
        if not route_id:
            return _placed(self.pool, "new")
        backend = self.pool.by_route(route_id)
        if backend is None:
            return _placed(self.pool, "rejected:unknown-route")
        if not backend.up:
            return _placed(self.pool, "moved", backend)
        return Decision(backend, "sticky")


# The strategy the balancer runs, one per affinity kind.
Strategy = CookieAffinity | AppCookieAffinity | IpAffinity | RouteAffinity
