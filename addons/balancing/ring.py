"""Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing
with Bounded Loads", SODA 2018), for IP affinity.

Every backend owns points on a ring in proportion to its weight; a key goes to the first backend
clockwise from its hash whose load is under its capacity, ceil((1 + epsilon) * (load + 1) * w / W).
Adding or removing one of N backends moves about 1/N of the keys, and no backend carries more than
(1 + epsilon) times its share. Keys are hashed with a secret (BLAKE2b keyed), so the ring never
needs, stores or reveals a raw client address. Plain logic, no mitmproxy import.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import math
import random
from collections.abc import Iterable
from collections.abc import Mapping

POINTS_PER_WEIGHT = 400  # enough points that overflow cascades stay rare (bench/ring_quality.py)
# A large pool gets fewer points per weight, so a ring of 1,000 backends builds in tens of ms (the load
# bound keeps the spread). One step, not a sliding scale: a backend's points are a fixed prefix of its
# own sequence, so adding one backend moves only its share of keys, except when the pool crosses the step.
LARGE_POOL_WEIGHT = 250
LARGE_POOL_POINTS_PER_WEIGHT = 40


def keyed_hash(key: bytes, data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, key=key[:64], digest_size=8).digest(), "big")


def client_key(address: str, prefix_v4: int = 32, prefix_v6: int = 64) -> bytes:
    """The part of a client address affinity follows: the whole address or a prefix (/24, /64)."""
    ip = ipaddress.ip_address(address)
    prefix = prefix_v4 if ip.version == 4 else prefix_v6
    return ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address.packed + bytes([prefix])


class Ring:
    def __init__(self, weights: Mapping[str, int], secret: bytes, epsilon: float = 0.25):
        if not weights:
            raise ValueError("a ring needs at least one backend")
        if any(w <= 0 for w in weights.values()):
            raise ValueError("weights must be positive")
        if epsilon <= 0:
            raise ValueError("epsilon must be positive")
        self.weights = dict(weights)
        self.total_weight = sum(self.weights.values())
        self.secret = secret
        self.epsilon = epsilon
        per_weight = POINTS_PER_WEIGHT if self.total_weight <= LARGE_POOL_WEIGHT else LARGE_POOL_POINTS_PER_WEIGHT
        points: list[tuple[int, str]] = []
        for name, weight in self.weights.items():
            # One keyed hash per backend seeds its points: secret-dependent and the same in every proxy
            # with the secret (Mersenne Twister from an int seed is stable across Python versions), and
            # 1,000 backends build in a fraction of a second rather than one keyed hash per point.
            draw = random.Random(keyed_hash(secret, f"{name}\x00points".encode())).getrandbits
            points.extend((draw(64), name) for _ in range(weight * per_weight))
        points.sort()
        self._hashes = [h for h, _ in points]
        self._names = [n for _, n in points]

    def capacity(self, name: str, total_load: int) -> int:
        return math.ceil((1 + self.epsilon) * (total_load + 1) * self.weights[name] / self.total_weight)

    def lookup(self, key: bytes, loads: Mapping[str, int] | None = None, exclude: Iterable[str] = (),
               total: int | None = None) -> str:
        """The backend for `key`: the first clockwise under its capacity (given `loads`, which sum to
        `total` when the caller knows it), skipping `exclude` (down or draining backends). Raises
        LookupError when every backend is excluded."""
        excluded = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
        if len(excluded) >= len(self.weights) and excluded >= set(self.weights):
            raise LookupError("no backend is available")
        if total is None:
            total = sum(loads.values()) if loads else 0
        start = bisect.bisect_left(self._hashes, keyed_hash(self.secret, key))
        n = len(self._names)
        fallback = None
        for i in range(n):
            name = self._names[(start + i) % n]
            if name in excluded:
                continue
            if fallback is None:
                fallback = name
            if loads is None or loads.get(name, 0) < self.capacity(name, total):
                return name
        assert fallback is not None
        return fallback


def assign(ring: Ring, keys: Iterable[bytes], exclude: Iterable[str] = ()) -> dict[bytes, str]:
    """Place keys one after another with bounded loads, as a balancer meets new clients."""
    loads: dict[str, int] = {name: 0 for name in ring.weights}
    placed = {}
    excluded = set(exclude)
    for key in keys:
        name = ring.lookup(key, loads, excluded)
        loads[name] += 1
        placed[key] = name
    return placed
