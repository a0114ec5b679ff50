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
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure  # noqa: E402  (bench/ is not a package)

from stickyguard.addons.balancing import backends  # noqa: E402
from stickyguard.addons.balancing import ring as ring_mod  # noqa: E402
from stickyguard.addons.balancing import sealing  # noqa: E402
from stickyguard.addons.balancing import store  # noqa: E402
from stickyguard.addons.balancing.kinds.app_cookie import AppCookieAffinity  # noqa: E402
from stickyguard.addons.balancing.kinds.cookie import CookieAffinity  # noqa: E402
from stickyguard.addons.balancing.kinds.ip import IpAffinity  # noqa: E402
from stickyguard.addons.balancing.kinds.route import RouteAffinity  # noqa: E402

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


def figures(n: int = 5000, rounds: int = 5) -> list[Figure]:
    """Per decision: the cost at 1,000 backends over the cost at 3; then the ring's build time."""
    loop = asyncio.new_event_loop()
    small, large = decisions(3, loop), decisions(1000, loop)
    table = {f"k{i}": i for i in range(1000)}
    baseline = statistics.median(per_call(lambda: table.get("k500"), n) for _ in range(rounds))
    cmd = "python bench/routing_cost.py"
    rows = []
    for name in small:
        at3, at1000 = [], []
        for _ in range(rounds):  # interleaved, so drift on a shared machine hits both alike
            at3.append(per_call(small[name], n))
            at1000.append(per_call(large[name], n))
        a, b = statistics.median(at3), statistics.median(at1000)
        rows.append(Figure("scale", f"{name}: 1,000 backends / 3", f"{b / a:.2f} ({a:.1f} µs -> {b:.1f} µs; a dict "
                           f"lookup {baseline:.3f} µs)", f"<= {AIM:g}", b <= AIM * a, cmd))
    builds = []
    for _ in range(3):
        start = time.perf_counter()
        ring_mod.Ring({f"app{i}": 1 for i in range(1000)}, SECRET)
        builds.append(time.perf_counter() - start)
    rows.append(Figure("scale", "the ip ring of 1,000 backends, built", f"{statistics.median(builds) * 1000:.0f} ms",
                       "", None, cmd))
    loop.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="decisions per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = figures(args.n, args.rounds)
    print(f"one routing decision (median of {args.rounds} rounds of {args.n})")
    print(tabulate([[f.what, f.measured, f.aim + ("" if f.holds is not False else "  MISSED")] for f in rows],
                   headers=["decision", "measured", "aim"], tablefmt="github"))
    return 1 if any(f.holds is False for f in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
