import collections
import os

import pytest

from stickyguard.addons.balancing import ring

SECRET = b"s" * 32


def test_lookup_is_stable_and_keyed():
    r = ring.Ring({"a": 1, "b": 1, "c": 1}, SECRET)
    key = ring.client_key("203.0.113.7")
    assert r.lookup(key) == r.lookup(key)
    other = ring.Ring({"a": 1, "b": 1, "c": 1}, b"t" * 32)
    keys = [os.urandom(8) for _ in range(300)]
    # A different secret gives a different placement: the mapping is not guessable from addresses.
    assert sum(r.lookup(k) != other.lookup(k) for k in keys) > 100


def test_weights_share_the_keys():
    r = ring.Ring({"small": 1, "big": 3}, SECRET)
    counts = collections.Counter(r.lookup(os.urandom(8)) for _ in range(8000))
    assert 2.4 < counts["big"] / counts["small"] < 3.6


def test_bounded_loads_cap_every_backend():
    r = ring.Ring({f"b{i}": 1 for i in range(10)}, SECRET, epsilon=0.25)
    placed = ring.assign(r, [os.urandom(8) for _ in range(5000)])
    loads = collections.Counter(placed.values())
    assert max(loads.values()) <= r.capacity("b0", 4999)
    assert max(loads.values()) / (5000 / 10) <= 1.25 + 1e-9


def test_exclude_skips_down_backends():
    r = ring.Ring({"a": 1, "b": 1}, SECRET)
    keys = [os.urandom(8) for _ in range(200)]
    assert {r.lookup(k, exclude={"a"}) for k in keys} == {"b"}
    with pytest.raises(LookupError, match="no backend is available"):
        r.lookup(keys[0], exclude={"a", "b"})


def test_removing_a_backend_moves_only_its_keys_without_loads():
    names = {f"b{i}": 1 for i in range(5)}
    before, after = ring.Ring(names, SECRET), ring.Ring({k: 1 for k in list(names)[:-1]}, SECRET)
    keys = [os.urandom(8) for _ in range(2000)]
    moved = [k for k in keys if before.lookup(k) != after.lookup(k)]
    assert all(before.lookup(k) == "b4" for k in moved)


@pytest.mark.parametrize("address,prefix4,prefix6,expected", [
    ("203.0.113.7", 24, 64, bytes([203, 0, 113, 0, 24])),
    ("203.0.113.7", 32, 64, bytes([203, 0, 113, 7, 32])),
    ("2001:db8:1:2:3::9", 24, 64, bytes.fromhex("20010db8000100020000000000000000") + bytes([64])),
])
def test_client_key(address, prefix4, prefix6, expected):
    assert ring.client_key(address, prefix4, prefix6) == expected


@pytest.mark.parametrize("weights,epsilon,message", [
    ({}, 0.25, "at least one backend"), ({"a": 0}, 0.25, "weights must be positive"), ({"a": 1}, 0, "epsilon"),
])
def test_bad_ring(weights, epsilon, message):
    with pytest.raises(ValueError, match=message):
        ring.Ring(weights, SECRET, epsilon)
