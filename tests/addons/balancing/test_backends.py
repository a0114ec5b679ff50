import collections
import random
import re

import pytest

from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing.backends import BackendSpec


@pytest.mark.parametrize("text,spec", [
    ("app1=http://10.0.0.11:8080", BackendSpec("app1", "http", "10.0.0.11", 8080, 1, "app1")),
    ("app2=https://app2.internal,weight=2", BackendSpec("app2", "https", "app2.internal", 443, 2, "app2")),
    ("b=http://[::1]:9000/,route=node7,weight=3", BackendSpec("b", "http", "::1", 9000, 3, "node7")),
])
def test_parse(text, spec):
    assert backends.parse_backend_spec(text) == spec


@pytest.mark.parametrize("text,message", [
    ("http://10.0.0.1", "expected NAME=URL"),
    ("app1=", "expected NAME=URL"),
    ("a b=http://x", "backend name 'a b'"),
    ("app=ftp://x", "not an http(s) URL with a host"),
    ("app=http://x/path", "has no path or query"),
    ("app=http://x:99999", "bad port"),
    ("app=http://x,weight=0", "unknown or bad option 'weight=0'"),
    ("app=http://x,colour=red", "unknown or bad option 'colour=red'"),
])
def test_parse_errors(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        backends.parse_backend_spec(text)


def pool(*specs, policy="p2c"):
    return backends.Pool([backends.parse_backend_spec(s) for s in specs], policy, random.Random(7))


def test_p2c_follows_weights_and_load():
    p = pool("a=http://a", "b=http://b,weight=3")
    for _ in range(4000):
        p.place().sessions += 1
    share = p.backends["b"].sessions / p.backends["a"].sessions
    assert 2.7 < share < 3.3
    assert p.spread()["jain"] > 0.99


def test_round_robin_by_weight():
    p = pool("a=http://a", "b=http://b,weight=2", policy="round-robin")
    counts = collections.Counter(p.place().name for _ in range(300))
    assert counts == {"a": 100, "b": 200}


def test_never_places_on_down_or_draining():
    p = pool("a=http://a", "b=http://b", "c=http://c")
    p.backends["a"].up = False
    p.backends["b"].draining = True
    assert {p.place().name for _ in range(50)} == {"c"}
    p.backends["c"].up = False
    with pytest.raises(LookupError, match="no backend is up"):
        p.place()


def test_moves_are_counted():
    p = pool("a=http://a", "b=http://b")
    p.move(p.backends["a"], p.backends["b"])
    p.move(None, p.backends["b"])
    assert (p.backends["a"].moves_out, p.backends["b"].moves_in) == (1, 2)


def test_by_route():
    p = pool("a=http://a,route=node1", "b=http://b")
    assert p.by_route("node1").name == "a" and p.by_route("b").name == "b" and p.by_route("x") is None


@pytest.mark.parametrize("specs,policy,message", [
    ([], "p2c", "at least one backend"),
    (["a=http://a", "a=http://b"], "p2c", "named twice"),
    (["a=http://a,route=r", "b=http://b,route=r"], "p2c", "same route id"),
    (["a=http://a"], "random", "policy must be one of"),
])
def test_bad_pool(specs, policy, message):
    with pytest.raises(ValueError, match=message):
        backends.Pool([backends.parse_backend_spec(s) for s in specs], policy)


def test_spread_of_an_idle_pool():
    assert pool("a=http://a").spread() == {"max_mean": 1.0, "jain": 1.0}
