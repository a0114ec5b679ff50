"""What tells the site's backends apart in its answers, and how sure that is.

Tried in order, the first that works wins:
1. a header that names the server (X-Backend, X-Served-By, X-Server, X-Upstream, Via, Server, ...) whose
   value differs between sessions: high confidence, the site says it;
2. the backend an affinity cookie decodes to (a BIG-IP address, a HAProxy server name, a jvmRoute): medium,
   it is where the balancer meant to send the session, read from the cookie;
3. any other header, or the body, whose value takes a few values over many answers, each seen again:
   low, a fingerprint that may be the backend or something else that varies.
Where nothing tells them apart, the probe says so rather than guess.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit.cookies import parse_set_cookie
from stickyguard.audit.engine import backend_of
from stickyguard.audit.probe.client import Response
from stickyguard.audit.probe.sessions import Visit
from stickyguard.audit.recording import BACKEND_HEADERS
from stickyguard.audit.recording import BACKEND_PREFIXES

# Headers that vary per answer whatever the backend: never a fingerprint.
PER_ANSWER = frozenset({"date", "content-length", "set-cookie", "etag", "last-modified", "expires", "age",
                        "x-request-id", "x-amzn-requestid", "x-amzn-trace-id", "cf-ray", "x-runtime", "server-timing",
                        "x-trace-id", "traceparent", "report-to", "nel"})


@dataclasses.dataclass(frozen=True)
class Signal:
    name: str  # e.g. "header X-Backend", "cookie SERVERID (decoded)", "body"
    confidence: str  # high, medium, low
    of: Callable[[Response], str | None]

    def describe(self) -> str:
        return f"{self.name} ({self.confidence} confidence)"


def find(visits: list[Visit], catalog: catalog_mod.Catalog) -> Signal | None:
    answered = [v.response for v in visits if v.response.status is not None]
    if not answered:
        return None
    return _named_header(answered) or _decoded_cookie(answered, catalog) or _fingerprint(answered)


def _header(name: str) -> Callable[[Response], str | None]:
    def of(response: Response) -> str | None:
        return response.header(name)
    return of


def _varies(values: list[str | None]) -> bool:
    seen = [v for v in values if v]
    return len(set(seen)) > 1 and len(seen) >= len(values) // 2


def _named_header(answers: list[Response]) -> Signal | None:
    names = {k.lower() for a in answers for k, _ in a.headers}
    for name in sorted(n for n in names if n in BACKEND_HEADERS or n.startswith(BACKEND_PREFIXES)):
        if _varies([a.header(name) for a in answers]):
            return Signal(f"header {name}", "high", _header(name))
    return None


def _decoded_cookie(answers: list[Response], catalog: catalog_mod.Catalog) -> Signal | None:
    """The cookie whose decoded backend differs between the answers that set it."""
    by_cookie: dict[str, list[str]] = {}
    for a in answers:
        for name, backend in _decoded_backends(a, catalog).items():
            by_cookie.setdefault(name, []).append(backend)
    for name, backends in sorted(by_cookie.items()):
        if len(set(backends)) > 1:
            def of(r: Response, n: str = name) -> str | None:
                return _decoded_backends(r, catalog).get(n)
            return Signal(f"cookie {name} (decoded)", "medium", of)
    return None


def _decoded_backends(answer: Response, catalog: catalog_mod.Catalog) -> dict[str, str]:
    found = {}
    for line in answer.set_cookie_lines():
        parsed = parse_set_cookie(line)
        if parsed is None:
            continue
        name, value, _ = parsed
        decoded = catalog.facts(name, value).get("decoded") or {}
        key = ", ".join(f"{k}={v}" for k, v in backend_of(decoded))  # the inventory's own notion of a backend
        if key:
            found[name] = key
    return found


def _fingerprint(answers: list[Response]) -> Signal | None:
    """A header or the body with a few values, each seen more than once: a backend's own fingerprint."""
    names = sorted({k.lower() for a in answers for k, _ in a.headers} - PER_ANSWER)
    candidates: list[tuple[str, Callable[[Response], str | None]]] = [(f"header {n}", _header(n)) for n in names]
    candidates.append(("body", lambda r: r.body_digest or None))
    for label, of in candidates:
        values = [of(a) for a in answers]
        counts = Counter(v for v in values if v)
        if len(counts) > 1 and sum(counts.values()) == len(values) and min(counts.values()) >= 2 \
                and len(counts) <= max(2, len(values) // 3):
            return Signal(label, "low", of)
    return None
