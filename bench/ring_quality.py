"""Ring quality: how many keys move when one of N backends is added or removed (against the ideal
1/N), and max/mean load, for consistent hashing with bounded loads (addons/ring.py).

    python bench/ring_quality.py [--keys 200000] [--epsilon 0.25]

Keys are placed one after another with bounded loads, as a balancer meets new clients.
Aim: moves within 10% of ideal, max/mean at most 1.25.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from stickyguard.addons.balancing import ring


def quality(n: int, keys: list[bytes], epsilon: float, secret: bytes) -> dict[str, float]:
    names = {f"b{i}": 1 for i in range(n)}
    base = ring.assign(ring.Ring(names, secret, epsilon), keys)
    loads = [sum(1 for v in base.values() if v == name) for name in names]
    added = ring.assign(ring.Ring({**names, f"b{n}": 1}, secret, epsilon), keys)
    removed = ring.assign(ring.Ring({k: 1 for k in list(names)[:-1]}, secret, epsilon), keys)
    moved_add = sum(base[k] != added[k] for k in keys) / len(keys)
    moved_remove = sum(base[k] != removed[k] for k in keys) / len(keys)
    return {
        "max_mean": max(loads) / statistics.mean(loads),
        "moved_add": moved_add, "ideal_add": 1 / (n + 1),
        "moved_remove": moved_remove, "ideal_remove": 1 / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200000)
    parser.add_argument("--epsilon", type=float, default=0.25)
    args = parser.parse_args()
    secret = os.urandom(32)
    keys = [os.urandom(8) for _ in range(args.keys)]
    print(f"{args.keys} keys, epsilon {args.epsilon}")
    print(f"{'N':>4} {'max/mean':>9} {'moved on add':>14} {'ideal':>7} {'ratio':>6} {'moved on remove':>16} "
          f"{'ideal':>7} {'ratio':>6} {'time':>6}")
    for n in (3, 10, 100):
        start = time.perf_counter()
        q = quality(n, keys, args.epsilon, secret)
        took = time.perf_counter() - start
        print(f"{n:>4} {q['max_mean']:>9.3f} {q['moved_add']:>14.4f} {q['ideal_add']:>7.4f} "
              f"{q['moved_add'] / q['ideal_add']:>6.2f} {q['moved_remove']:>16.4f} {q['ideal_remove']:>7.4f} "
              f"{q['moved_remove'] / q['ideal_remove']:>6.2f} {took:>5.1f}s")


if __name__ == "__main__":
    main()
