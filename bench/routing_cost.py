"""The routing decision per request, for each affinity kind, next to one plain dict lookup
measured in the same process.

    python bench/routing_cost.py [-n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from stickyguard.addons.balancing import affinity
from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing import sealing
from stickyguard.addons.balancing import store


def per_call(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000)
    args = parser.parse_args()
    pool = backends.Pool([backends.parse_backend_spec(f"app{i}=http://10.0.0.{i}:8080,route=r{i}") for i in range(3)],
                         rng=random.Random(1))
    secret = b"s" * 32
    table = {f"k{i}": i for i in range(1000)}
    baseline = per_call(lambda: table.get("k500"), args.n)

    cookie = affinity.CookieAffinity(pool, sealing.Sealer([secret]))
    token = cookie.cookie_value(cookie.route(None))
    ip = affinity.IpAffinity(pool, secret, prefix_v4=24)
    route = affinity.RouteAffinity(pool)
    app = affinity.AppCookieAffinity(pool, store.MemoryStore(), "JSESSIONID", secret)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(app.learn("sess-1", "app1", None))

    rows = [
        ("cookie (open a sealed token)", per_call(lambda: cookie.route(token), args.n)),
        ("cookie (seal a new token)", per_call(lambda: cookie.cookie_value(cookie.route(None)), args.n)),
        ("app-cookie (memory table)", per_call(lambda: loop.run_until_complete(app.route("sess-1")), args.n)),
        ("ip (ring, bounded loads)", per_call(lambda: ip.route("203.0.113.7"), args.n)),
        ("route (jvmRoute suffix)", per_call(lambda: route.route(route.route_id("/", "ABC.r1", {}, {})), args.n)),
    ]
    print(f"one dict lookup: {baseline:.3f} us")
    for label, cost in rows:
        print(f"{label:32} {cost:8.2f} us  ({cost / baseline:6.0f}x a dict lookup)")


if __name__ == "__main__":
    main()
