"""route: a route id carried by the session itself: a `.route` suffix on the session cookie (Tomcat
jvmRoute), the same in a `;jsessionid=` path parameter, a query parameter, or a header. Backends name
their route with `route=ID` (balancing/backends.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from typing import ClassVar
from typing import Optional

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

_JSESSIONID_PARAM = re.compile(r";jsessionid=[^;/?#]*\.([A-Za-z0-9_.-]+)", re.IGNORECASE)


class RouteAffinity:
    name: ClassVar[str] = "route"
    help: ClassVar[str] = "a route id in the session (jvmRoute suffix, ;jsessionid=, a query parameter or a header)"
    options: ClassVar[Sequence[Any]] = (
        Option("balance_route_param", Optional[str], None,
               "Query parameter carrying the route id."),
        Option("balance_route_header", Optional[str], None, "Header carrying the route id."),
    )
    demo: ClassVar[Demo] = Demo(routes=True)

    def __init__(self, pool: Pool, cookie_name: str = "JSESSIONID", query_param: str | None = None,
                 header: str | None = None):
        self.pool = pool
        self.cookie_name = cookie_name
        self.query_param = query_param
        self.header = header

    @classmethod
    def build(cls, setup: Setup) -> RouteAffinity:
        o = setup.options
        return cls(setup.pool, o["balance_app_cookie"], o["balance_route_param"], o["balance_route_header"])

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
            return placed(self.pool, Reason.NEW)
        backend = self.pool.by_route(route_id)
        if backend is None:
            return placed(self.pool, Reason.REJECTED, detail="unknown-route")
        if not backend.up:
            return placed(self.pool, Reason.MOVED, backend)
        return Decision(backend, Reason.STICKY)

    async def decide(self, request: RequestView) -> Decision:
        query = {self.query_param: request.query(self.query_param) or ""} if self.query_param else {}
        headers = {self.header.lower(): request.header(self.header) or ""} if self.header else {}
        return self.route(self.route_id(request.path, request.cookie(self.cookie_name), query, headers))

    async def respond(self, request: RequestView, response: ResponseView, decision: Decision,
                      served: Backend) -> list[str]:
        return []
