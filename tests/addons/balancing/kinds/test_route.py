import asyncio

import pytest

from stickyguard.addons.balancing.kinds.route import RouteAffinity  # noqa: E402
from tests.addons.balancing.kinds import pool


class TestRoute:
    def setup_method(self):
        self.pool = pool("a", "b")
        self.aff = RouteAffinity(self.pool, query_param="route", header="X-Route")

    @pytest.mark.parametrize("path,cookie,query,headers,route", [
        ("/", "ABC123.ra", {}, {}, "ra"),
        ("/cart;jsessionid=ABC123.rb?x=1", None, {}, {}, "rb"),
        ("/", None, {"route": "ra"}, {}, "ra"),
        ("/", None, {}, {"x-route": "rb"}, "rb"),
        ("/", "ABC123", {}, {}, None),
    ])
    def test_route_id(self, path, cookie, query, headers, route):
        assert self.aff.route_id(path, cookie, query, headers) == route

    def test_route(self):
        assert self.aff.route("rb").backend.name == "b"
        assert self.aff.route("nope").label == "rejected:unknown-route"
        self.pool.backends["b"].up = False
        assert self.aff.route("rb").label == "moved"


class _View:
    def __init__(self, path="/", cookies=None, query=None, headers=None):
        self.path, self._c, self._q, self._h = path, cookies or {}, query or {}, headers or {}

    def cookie(self, name):
        return self._c.get(name)

    def query(self, name):
        return self._q.get(name)

    def header(self, name):
        return self._h.get(name.lower())


def test_decide_reads_cookie_path_query_and_header():
    aff = RouteAffinity(pool("a", "b"), query_param="route", header="X-Route")
    assert asyncio.run(aff.decide(_View(cookies={"JSESSIONID": "S.rb"}))).backend.name == "b"
    assert asyncio.run(aff.decide(_View(path="/x;jsessionid=S.ra"))).backend.name == "a"
    assert asyncio.run(aff.decide(_View(query={"route": "rb"}))).backend.name == "b"
    assert asyncio.run(aff.decide(_View(headers={"x-route": "ra"}))).backend.name == "a"
    assert asyncio.run(aff.decide(_View())).label == "new"
