"""cookie: the balancer inserts its own cookie, an opaque, authenticated token (balancing/sealing.py) that
names no backend, so a client can neither read the topology nor steer itself to a server of its choice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import ClassVar

from stickyguard.addons.balancing import sealing
from stickyguard.addons.balancing.affinity import Decision
from stickyguard.addons.balancing.affinity import Demo
from stickyguard.addons.balancing.affinity import Reason
from stickyguard.addons.balancing.affinity import RequestView
from stickyguard.addons.balancing.affinity import ResponseView
from stickyguard.addons.balancing.affinity import Setup
from stickyguard.addons.balancing.affinity import forwarded_https
from stickyguard.addons.balancing.affinity import placed
from stickyguard.addons.balancing.backends import Backend
from stickyguard.addons.balancing.backends import Pool


class CookieAffinity:
    name: ClassVar[str] = "cookie"
    help: ClassVar[str] = "the balancer's own sealed cookie (default)"
    options: ClassVar[Sequence[Any]] = ()
    demo: ClassVar[Demo] = Demo()

    def __init__(self, pool: Pool, sealer: sealing.Sealer, cookie_name: str = "sg_affinity",
                 trusted_proxies: tuple[str, ...] = ()):
        self.pool = pool
        self.sealer = sealer
        self.cookie_name = cookie_name
        self.trusted_proxies = trusted_proxies

    @classmethod
    def build(cls, setup: Setup) -> CookieAffinity:
        o = setup.options
        sealer = sealing.Sealer(list(setup.secrets), o["balance_idle_timeout"], o["balance_absolute_timeout"])
        return cls(setup.pool, sealer, o["balance_cookie_name"], tuple(o["balance_trusted_proxies"]))

    def route(self, token: str | None) -> Decision:
        if not token:
            return placed(self.pool, Reason.NEW)
        try:
            opened = self.sealer.open(token)
        except sealing.InvalidToken as e:
            return placed(self.pool, Reason.REJECTED, detail=e.reason)
        backend = self.pool.backends.get(opened.backend)
        if backend is None or not backend.up:
            return placed(self.pool, Reason.MOVED, backend)
        refresh = opened.needs_refresh(self.sealer.clock(), self.sealer.idle_timeout)
        return Decision(backend, Reason.STICKY, set_cookie=refresh, issued_at=opened.issued_at)

    def cookie_value(self, decision: Decision) -> str:
        return self.sealer.seal(decision.backend.name, decision.issued_at)

    @property
    def own_cookie_names(self) -> tuple[str, ...]:
        """The balancer's cookie as a request may carry it (the balancer strips these before a backend)."""
        return (self.cookie_name, f"__Host-{self.cookie_name}")

    async def decide(self, request: RequestView) -> Decision:
        return self.route(request.cookie(f"__Host-{self.cookie_name}") or request.cookie(self.cookie_name))

    async def respond(self, request: RequestView, response: ResponseView, decision: Decision,
                      served: Backend) -> list[str]:
        """(Re)issue the cookie when the decision asks, or when another backend than planned answered."""
        if not decision.set_cookie and served is decision.backend:
            return []
        token = self.sealer.seal(served.name, decision.issued_at if served is decision.backend else None)
        tls = request.tls or forwarded_https(request.peer, request.header_all("x-forwarded-proto"),
                                             self.trusted_proxies)
        name = f"__Host-{self.cookie_name}" if tls else self.cookie_name
        return [f"{name}={token}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if tls else "")]
