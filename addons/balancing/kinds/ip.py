"""ip: the client's address (or a prefix of it), keyed-hashed onto a consistent-hash ring with bounded
loads; no raw address is stored."""

from __future__ import annotations

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
                 trusted_proxies: tuple[str, ...] = ()):
        self.pool = pool
        self.prefix_v4, self.prefix_v6 = prefix_v4, prefix_v6
        self.trusted_proxies = trusted_proxies
        self.ring = ring_mod.Ring({b.name: b.spec.weight for b in pool.backends.values()}, secret, epsilon)

    @classmethod
    def build(cls, setup: Setup) -> IpAffinity:
        o = setup.options
        return cls(setup.pool, setup.secrets[0], o["balance_ip_prefix"], o["balance_ip6_prefix"],
                   trusted_proxies=tuple(o["balance_trusted_proxies"]))

    def route(self, client: str) -> Decision:
        key = ring_mod.client_key(client, self.prefix_v4, self.prefix_v6)
        unavailable = {b.name for b in self.pool.backends.values() if not b.available}
        loads = {b.name: b.sessions for b in self.pool.backends.values()}
        name = self.ring.lookup(key, loads, unavailable)
        return Decision(self.pool.backends[name], Reason.STICKY)

    async def decide(self, request: RequestView) -> Decision:
        return self.route(client_address(request.peer, request.header_all("x-forwarded-for"), self.trusted_proxies))

    async def respond(self, request: RequestView, response: ResponseView, decision: Decision,
                      served: Backend) -> list[str]:
        return []
