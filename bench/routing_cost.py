"""The routing decision per request, for each affinity kind, with 3 backends and with 1,000, next to one
plain dict lookup measured in the same process; and the ip ring's build time. The decisions run in one
event loop (no start-up inside the figure), medians over rounds interleaved between the two pool sizes.

    python bench/routing_cost.py [-n 5000] [--rounds 5]

Aim: every decision at 1,000 backends within 2x of the same decision at 3 (no O(N) per request).
Exits 1 when one is over.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable

from tabulate import tabulate

from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing import ring as ring_mod
from stickyguard.addons.balancing import sealing
from stickyguard.addons.balancing import store
from stickyguard.addons.balancing.kinds.app_cookie import AppCookieAffinity
from stickyguard.addons.balancing.kinds.cookie import CookieAffinity
from stickyguard.addons.balancing.kinds.ip import IpAffinity
from stickyguard.addons.balancing.kinds.route import RouteAffinity

SECRET = b"s" * 32
AIM = 2.0


def pool_of(n: int) -> backends.Pool:
    return backends.Pool([backends.parse_backend_spec(f"app{i}=http://10.{i // 250}.{i % 250}.1:8080,route=r{i}")
                          for i in range(n)], rng=random.Random(1))


def decisions(n: int, loop: asyncio.AbstractEventLoop) -> dict[str, Callable[[], object]]:
    """name -> one decision with an n-backend pool, as the balancer makes it per request."""
    pool = pool_of(n)
    cookie = CookieAffinity(pool, sealing.Sealer([SECRET]))
    token = cookie.cookie_value(cookie.route(None))
    ip = IpAffinity(pool, SECRET, prefix_v4=32)
    route = RouteAffinity(pool)
    app = AppCookieAffinity(pool, store.MemoryStore(), "JSESSIONID", SECRET)
    loop.run_until_complete(app.learn("sess-1", "app1", None))
    known = ip.route("203.0.113.7")
    assert known is not None
    fresh = (f"198.51.{i // 250 % 250}.{i % 250}" for i in itertools.count())
    return {
        "cookie, a known session (open the token)": lambda: cookie.route(token),
        "cookie, a new session (place and seal)": lambda: cookie.cookie_value(cookie.route(None)),
        "app-cookie, a known session (memory table)": lambda: loop.run_until_complete(app.route("sess-1")),
        "ip, a known client": lambda: ip.route("203.0.113.7"),
        "ip, a new client (ring with bounded loads)": lambda: ip.route(next(fresh)),
        "route, jvmRoute suffix": lambda: route.route(route.route_id("/", "ABC.r1", {}, {})),
    }


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="decisions per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    small, large = decisions(3, loop), decisions(1000, loop)
    table = {f"k{i}": i for i in range(1000)}
    baseline = statistics.median(per_call(lambda: table.get("k500"), args.n) for _ in range(args.rounds))
    rows, missed = [], []
    for name in small:
        at3, at1000 = [], []
        for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits both alike
            at3.append(per_call(small[name], args.n))
            at1000.append(per_call(large[name], args.n))
        a, b = statistics.median(at3), statistics.median(at1000)
        ok = b <= AIM * a
        rows.append([name, f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}", f"<= {AIM:g}" + ("" if ok else "  MISSED")])
        if not ok:
            missed.append(name)
    builds = []
    for _ in range(3):
        start = time.perf_counter()
        ring_mod.Ring({f"app{i}": 1 for i in range(1000)}, SECRET)
        builds.append(time.perf_counter() - start)
    print(f"one routing decision, µs (median of {args.rounds} rounds of {args.n}); a dict lookup is {baseline:.3f} µs")
    print(tabulate(rows, headers=["decision", "3 backends", "1,000 backends", "ratio", "aim"], tablefmt="github"))
    print(f"ip ring of 1,000 backends built in {statistics.median(builds) * 1000:.0f} ms")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
