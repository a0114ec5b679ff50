import asyncio
import collections
import random

import pytest
from stickyguard.addons.balancing import affinity
from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing import sealing
from stickyguard.addons.balancing import store

SECRET = b"k" * 32


def pool(*names):
    specs = [backends.parse_backend_spec(f"{n}=http://{n}.internal:8080,route=r{n}") for n in names]
    return backends.Pool(specs, rng=random.Random(3))


class TestCookie:
    def setup_method(self):
        self.pool = pool("a", "b", "c")
        self.aff = affinity.CookieAffinity(self.pool, sealing.Sealer([SECRET]))

    def test_new_then_sticky(self):
        first = self.aff.route(None)
        assert first.reason == "new" and first.set_cookie
        token = self.aff.cookie_value(first)
        for _ in range(5):
            again = self.aff.route(token)
            assert (again.backend, again.reason, again.set_cookie) == (first.backend, "sticky", False)

    @pytest.mark.parametrize("token,reason", [
        ("garbage", "rejected:malformed"),
        ("s1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "rejected:forged"),
    ])
    def test_bad_tokens_are_repinned_by_the_pool(self, token, reason):
        decision = self.aff.route(token)
        assert decision.reason == reason and decision.set_cookie and decision.backend.available

    def test_a_foreign_key_token_is_rejected(self):
        foreign = sealing.Sealer([b"z" * 32]).seal("a")
        assert self.aff.route(foreign).reason == "rejected:forged"

    def test_dead_backend_moves_and_counts(self):
        first = self.aff.route(None)
        token = self.aff.cookie_value(first)
        first.backend.up = False
        moved = self.aff.route(token)
        assert moved.reason == "moved" and moved.backend is not first.backend
        assert first.backend.moves_out == 1 and moved.backend.moves_in == 1

    def test_draining_keeps_its_sessions(self):
        first = self.aff.route(None)
        token = self.aff.cookie_value(first)
        first.backend.draining = True
        assert self.aff.route(token).backend is first.backend


def test_app_cookie_learns_and_forgets():
    p = pool("a", "b")
    aff = affinity.AppCookieAffinity(p, store.MemoryStore(), "JSESSIONID", SECRET)

    async def go():
        assert (await aff.route("sess-1")).reason == "new"
        await aff.learn("sess-1", "b", None)
        assert (await aff.route("sess-1")).backend.name == "b"
        await aff.learn("sess-1", "b", 0)          # the app deleted its cookie
        assert (await aff.route("sess-1")).reason == "new"
        await aff.learn("sess-2", "a", 3600)
        p.backends["a"].up = False
        moved = await aff.route("sess-2")
        assert moved.reason == "moved" and moved.backend.name == "b"
        assert (await aff.route("sess-2")).reason == "sticky"   # re-pinned where it was moved
    asyncio.run(go())
    assert "sess-1" not in repr(aff.store._data)


def test_ip_affinity_is_sticky_and_bounded():
    p = pool(*"abcd")
    aff = affinity.IpAffinity(p, SECRET, prefix_v4=24)
    assert aff.route("203.0.113.7").backend is aff.route("203.0.113.99").backend   # same /24
    counts = collections.Counter()
    for i in range(4000):
        d = aff.route(f"10.{i // 256}.{i % 256}.1")
        d.backend.sessions += 1
        counts[d.backend.name] += 1
    assert max(counts.values()) / 1000 <= 1.25


def test_ip_affinity_skips_down_backends():
    p = pool("a", "b")
    aff = affinity.IpAffinity(p, SECRET)
    p.backends["a"].up = False
    assert {aff.route(f"192.0.2.{i}").backend.name for i in range(50)} == {"b"}


@pytest.mark.parametrize("peer,xff,trusted,client", [
    ("198.51.100.9", ["203.0.113.1"], ["10.0.0.0/8"], "198.51.100.9"),      # untrusted peer: XFF ignored
    ("10.0.0.5", ["203.0.113.1, 10.0.0.7"], ["10.0.0.0/8"], "203.0.113.1"),  # right to left past trusted hops
    ("10.0.0.5", ["spoofed, 203.0.113.1"], ["10.0.0.0/8"], "203.0.113.1"),
    ("10.0.0.5", ["not-an-ip"], ["10.0.0.0/8"], "10.0.0.5"),
    ("10.0.0.5", [], ["10.0.0.0/8"], "10.0.0.5"),
])
def test_client_address(peer, xff, trusted, client):
    assert affinity.client_address(peer, xff, trusted) == client


class TestRoute:
    def setup_method(self):
        self.pool = pool("a", "b")
        self.aff = affinity.RouteAffinity(self.pool, query_param="route", header="X-Route")

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
        assert self.aff.route("nope").reason == "rejected:unknown-route"
        self.pool.backends["b"].up = False
        assert self.aff.route("rb").reason == "moved"


@pytest.mark.parametrize("peer,proto,trusted,https", [
    ("10.0.0.5", ["https"], ["10.0.0.0/8"], True),
    ("10.0.0.5", ["http, https"], ["10.0.0.0/8"], True),     # the last hop's word counts
    ("10.0.0.5", ["https, http"], ["10.0.0.0/8"], False),
    ("198.51.100.9", ["https"], ["10.0.0.0/8"], False),      # anyone can send the header; only a trusted peer counts
    ("10.0.0.5", [], ["10.0.0.0/8"], False),
    ("not-an-ip", ["https"], ["10.0.0.0/8"], False),
])
def test_forwarded_https(peer, proto, trusted, https):
    assert affinity.forwarded_https(peer, proto, trusted) is https
