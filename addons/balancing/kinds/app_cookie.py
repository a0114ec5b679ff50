"""app-cookie: the application sets a session cookie (JSESSIONID, PHPSESSID, ...); the balancer learns
session id -> backend from the responses and routes on it. The table keys are keyed hashes of the ids."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any
from typing import ClassVar

from stickyguard.addons.balancing import store as store_mod
from stickyguard.addons.balancing.affinity import Decision
from stickyguard.addons.balancing.affinity import Demo
from stickyguard.addons.balancing.affinity import Reason
from stickyguard.addons.balancing.affinity import RequestView
from stickyguard.addons.balancing.affinity import ResponseView
from stickyguard.addons.balancing.affinity import Setup
from stickyguard.addons.balancing.affinity import placed
from stickyguard.addons.balancing.backends import Backend
from stickyguard.addons.balancing.backends import Pool
from stickyguard.addons.balancing.options import Option
from stickyguard.addons.balancing.options import between


class AppCookieAffinity:
    name: ClassVar[str] = "app-cookie"
    help: ClassVar[str] = "a learned application session cookie (balance_app_cookie)"
    options: ClassVar[Sequence[Any]] = (
        Option("balance_store", str, "memory",
               "Session table for app-cookie: memory, sqlite:PATH (survives restarts) or redis://HOST:PORT/DB "
               "(shared by several proxies).", metavar="memory|sqlite:PATH|redis://HOST:PORT/DB"),
        Option("balance_store_timeout_ms", int, 250,
               "Milliseconds a call to an SQLite or Redis table may take; past that (or after an error) the "
               "request is placed without the table, counted, and the table is left alone for a second.",
               check=between("balance_store_timeout_ms", 10, 10_000)),
    )
    demo: ClassVar[Demo] = Demo()

    def __init__(self, pool: Pool, store: store_mod.Store, cookie_name: str, secret: bytes,
                 idle_timeout: int = 30 * 60):
        self.pool = pool
        self.store = store
        self.cookie_name = cookie_name
        self.secret = secret
        self.idle_timeout = idle_timeout

    @classmethod
    def build(cls, setup: Setup) -> AppCookieAffinity:
        o = setup.options
        table = store_mod.open_store(o["balance_store"], timeout=o["balance_store_timeout_ms"] / 1000)
        return cls(setup.pool, table, o["balance_app_cookie"], setup.secrets[0], o["balance_idle_timeout"])

    async def purge(self) -> int:
        """Expired entries out of the table (the balancer calls it every `store.purge_every` seconds)."""
        return await self.store.purge()

    def key(self, value: str) -> str:
        return "app:" + hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:32]

    async def route(self, value: str | None) -> Decision:
        if not value:
            return placed(self.pool, Reason.NEW)
        name = await self.store.get(self.key(value))
        if name is None:
            return placed(self.pool, Reason.NEW)
        backend = self.pool.backends.get(name)
        if backend is None or not backend.up:
            decision = placed(self.pool, Reason.MOVED, backend)
            await self.learn(value, decision.backend.name, None)
            return decision
        await self.store.set(self.key(value), name, self.idle_timeout)  # touch: the idle clock restarts
        return Decision(backend, Reason.STICKY)

    async def learn(self, value: str, backend: str, lifetime: int | None) -> None:
        """From the backend's Set-Cookie: remember, or forget when the app deletes the cookie."""
        if lifetime is not None and lifetime <= 0:
            await self.store.delete(self.key(value))
            return
        ttl = self.idle_timeout if lifetime is None else min(lifetime, self.idle_timeout)
        await self.store.set(self.key(value), backend, ttl)

    async def decide(self, request: RequestView) -> Decision:
        return await self.route(request.cookie(self.cookie_name))

    async def respond(self, request: RequestView, response: ResponseView, decision: Decision,
                      served: Backend) -> list[str]:
        """Learn the application's cookie from the backend that set it; add nothing."""
        for cookie in response.set_cookies():
            if cookie.name == self.cookie_name:
                await self.learn(cookie.value, served.name, cookie.lifetime)
        return []
