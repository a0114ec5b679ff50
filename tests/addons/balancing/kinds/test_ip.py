import asyncio
import collections

from stickyguard.addons.balancing.kinds.ip import IpAffinity  # noqa: E402
from tests.addons.balancing.kinds import SECRET
from tests.addons.balancing.kinds import pool


def test_ip_affinity_is_sticky_and_bounded():
    p = pool(*"abcd")
    aff = IpAffinity(p, SECRET, prefix_v4=24)
    assert aff.route("203.0.113.7").backend is aff.route("203.0.113.99").backend   # same /24
    counts = collections.Counter()
    for i in range(4000):
        d = aff.route(f"10.{i // 256}.{i % 256}.1")
        counts[d.backend.name] += 1
    assert max(counts.values()) / 1000 <= 1.25


def test_the_bound_binds_on_distinct_clients_without_the_caller_counting():
    """60 clients on 3 equal backends, each coming back often: max/mean stays within 1 + epsilon."""
    aff = IpAffinity(pool(*"abc"), SECRET)
    first = {}
    for visit in range(5):
        for i in range(60):
            d = aff.route(f"198.51.100.{i}")
            assert d.reason.value == ("new" if visit == 0 else "sticky")
            assert first.setdefault(i, d.backend.name) == d.backend.name
    loads = collections.Counter(first.values())
    assert max(loads.values()) / (60 / 3) <= 1.25
    assert dict(aff.clients.loads) == dict(loads)


def test_clients_are_forgotten_after_the_idle_timeout():
    now = [0.0]
    aff = IpAffinity(pool(*"abc"), SECRET, idle_timeout=10, clock=lambda: now[0])
    aff.route("192.0.2.1")
    now[0] = 9.0
    assert aff.route("192.0.2.1").reason.value == "sticky"
    now[0] = 30.0
    assert aff.route("192.0.2.1").reason.value == "new"
    assert sum(aff.clients.loads.values()) == 1


def test_a_client_whose_backend_is_down_is_moved_and_counted():
    p = pool("a", "b")
    aff = IpAffinity(p, SECRET)
    pinned = aff.route("192.0.2.9").backend
    pinned.up = False
    d = aff.route("192.0.2.9")
    assert d.reason.value == "moved" and d.backend is not pinned and pinned.moves_out == 1


def test_ip_affinity_skips_down_backends():
    p = pool("a", "b")
    aff = IpAffinity(p, SECRET)
    p.backends["a"].up = False
    assert {aff.route(f"192.0.2.{i}").backend.name for i in range(50)} == {"b"}


class _View:
    def __init__(self, peer, xff=()):
        self.peer, self.xff = peer, list(xff)

    def header_all(self, name):
        return self.xff if name == "x-forwarded-for" else []


def test_decide_believes_x_forwarded_for_only_from_a_trusted_peer():
    aff = IpAffinity(pool(*"abcd"), SECRET, trusted_proxies=("127.0.0.1/32",))
    direct = asyncio.run(aff.decide(_View("203.0.113.7")))
    via_proxy = asyncio.run(aff.decide(_View("127.0.0.1", ["203.0.113.7"])))
    spoofed = asyncio.run(aff.decide(_View("198.51.100.1", ["203.0.113.7"])))
    assert direct.backend is via_proxy.backend
    assert spoofed.backend is aff.route("198.51.100.1").backend
