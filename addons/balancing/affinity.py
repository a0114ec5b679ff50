"""What every affinity kind shares: the decision it returns and why, the request and response it sees,
the protocol a kind follows, and the address helpers several kinds use. Plain logic, no mitmproxy.

A kind (`addons/balancing/kinds/`) says which backend a request belongs to and why, and what to add to
the response (the balancer's own cookie) or learn from it (an application cookie); placing new
sessions is the pool's job. The balancer addon hands a kind views of mitmproxy's flow, so a kind never
sees mitmproxy.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import ClassVar
from typing import NamedTuple
from typing import Protocol

from stickyguard.addons.balancing.backends import Backend
from stickyguard.addons.balancing.backends import Pool


class Reason(enum.Enum):
    """Why a request went where it went; the balancer counts each (`balance.status`)."""

    NEW = "new"            # no session yet: placed by the pool
    STICKY = "sticky"      # its session's backend
    MOVED = "moved"        # its backend is down or gone: placed anew and re-pinned
    REJECTED = "rejected"  # a tampered, forged, expired or unknown token: placed anew (detail says why)
    UNSTORED = "unstored"  # the session table is unreachable: placed anew

    @property
    def places_a_session(self) -> bool:
        return self is not Reason.STICKY


@dataclasses.dataclass
class Decision:
    backend: Backend
    reason: Reason
    detail: str = ""  # why a token was rejected: malformed, forged, expired, unknown-route, ...
    set_cookie: bool = False  # the balancer's own cookie should be (re)issued on the response
    issued_at: int | None = None  # keep the session's start when re-sealing

    @property
    def label(self) -> str:
        """`new`, `sticky`, `rejected:forged`: what flow.metadata and the logs say."""
        return f"{self.reason.value}:{self.detail}" if self.detail else self.reason.value


def placed(pool: Pool, reason: Reason, previous: Backend | None = None, detail: str = "") -> Decision:
    """A session the pool places anew; moving it off `previous` is counted on both backends."""
    backend = pool.place()
    if previous is not None:
        pool.move(previous, backend)
    return Decision(backend, reason, detail, set_cookie=True)


class RequestView(Protocol):
    """What a kind may read of a request."""

    peer: str  # the TCP peer's address
    tls: bool  # the client spoke TLS to us

    @property
    def path(self) -> str: ...  # with any ;params and ?query

    def cookie(self, name: str) -> str | None: ...
    def header(self, name: str) -> str | None: ...
    def header_all(self, name: str) -> Sequence[str]: ...
    def query(self, name: str) -> str | None: ...


class SetCookie(NamedTuple):
    name: str
    value: str
    lifetime: int | None  # seconds per RFC 6265; None for a session cookie, <= 0 for a deletion


class ResponseView(Protocol):
    def set_cookies(self) -> Sequence[SetCookie]: ...


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a kind is built from: the pool, every balance_* option's value, and the secrets (the first seals)."""

    pool: Pool
    options: Mapping[str, Any]
    secrets: Sequence[bytes]


class Demo(NamedTuple):
    """How `stickyguard demo` runs a kind."""

    options: Mapping[str, Any] = {}  # balance_* options beyond the backends
    routes: bool = False  # each backend gets `route=<its name>`
    forwarded_for: bool = False  # each shopper comes from its own address, named in X-Forwarded-For


class Kind(Protocol):
    """One affinity kind. A new kind is a module in kinds/ with a class like this, and one line in the
    registry (kinds/__init__.py); the addon, the launcher's flags and the demo follow from there."""

    name: ClassVar[str]
    help: ClassVar[str]  # a few words for the launcher's --affinity help
    options: ClassVar[Sequence[Any]]  # the Option declarations only this kind reads (balancing/options.py)
    demo: ClassVar[Demo]

    @classmethod
    def build(cls, setup: Setup) -> Kind: ...
    async def decide(self, request: RequestView) -> Decision: ...
    async def respond(self, request: RequestView, response: ResponseView, decision: Decision,
                      served: Backend) -> list[str]:
        """Set-Cookie lines to add to the response of `served` (the backend that really answered)."""
        ...


def _networks(trusted: Iterable[str]) -> tuple:
    return _parsed_networks(tuple(trusted))


@functools.lru_cache(maxsize=64)  # the trusted list changes only with the configuration
def _parsed_networks(trusted: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _within(addr: str, networks: tuple) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def within_networks(addr: str, trusted: Iterable[str]) -> bool:
    """Whether `addr` is inside one of the `trusted` networks (CIDR strings)."""
    return _within(addr, _networks(trusted))


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
