"""The balancer's CPU per request against plain mitmdump, paired (bench/paired.py): each scenario and
plain mitmdump in reverse mode run at the same time on the same core, with the same requests and
headers, the balancer over three backends; medians over rounds with min-max; a control pair of two
plain mitmdumps first. Loopback only; every process started here is stopped here.

    python bench/proxy_throughput.py [--rounds 5] [--requests 800] [--only NAME ...]

Exits 1 when a scenario's median is over its aim.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paired  # noqa: E402  (bench/ is not a package)
from figures import Figure  # noqa: E402

ROUTE_COOKIE = "JSESSIONID=0123456789ABCDEF0123456789ABCDEF.b1"


def scenarios(work: Path) -> dict[str, tuple[Callable[[int, list[int]], list[str]], paired.Traffic, float]]:
    """name -> (the proxy's command, traffic, aim as a ratio to plain mitmdump's CPU per request)."""
    sqlite = work / "sessions.sqlite"
    out = {
        "cookie": (paired.balancer([]), paired.Traffic(), 1.10),
        "cookie, a new session each request": (paired.balancer([]), paired.Traffic(jar=False), 1.10),
        # Not a kind: what the access log costs, said rather than promised (issue 14).
        "cookie, access log on": (paired.balancer(["--set", f"balance_access_log={work / 'access.log'}"]),
                                  paired.Traffic(), 1.20),
        "app-cookie, memory": (paired.balancer(["--set", "balance_affinity=app-cookie"]), paired.Traffic(), 1.10),
        "app-cookie, SQLite": (paired.balancer(["--set", "balance_affinity=app-cookie", "--set",
                                                f"balance_store=sqlite:{sqlite}"]), paired.Traffic(), 1.10),
        "ip": (paired.balancer(["--set", "balance_affinity=ip"]), paired.Traffic(), 1.10),
        "route": (paired.balancer(["--set", "balance_affinity=route"]),
                  paired.Traffic(cookie=ROUTE_COOKIE, jar=False), 1.10),
        "recorder alone": (paired.recorder(work), paired.Traffic(), 1.05),
        "balancer with recorder": (paired.recorder(work, []), paired.Traffic(), 1.15),
    }
    if shutil.which("redis-server"):
        out["app-cookie, Redis"] = (paired.balancer(["--set", "balance_affinity=app-cookie", "--set",
                                                     "balance_store=redis://127.0.0.1:REDIS_PORT/0"]),
                                    paired.Traffic(), 1.10)
    return out


def figures(rounds: int = 5, requests: int = 800, only: list[str] | None = None) -> list[Figure]:
    """One row per scenario (CPU per request / plain mitmdump's), after the control pair."""
    if problem := paired.check_machine():
        raise SystemExit(f"bench: {problem}")
    work = Path(tempfile.mkdtemp(prefix="sg-proxy-"))
    cmd = "python bench/proxy_throughput.py"
    reference = paired.Side("plain mitmdump", paired.plain)
    control = paired.ratios(reference, paired.Side("plain mitmdump", paired.plain), paired.Traffic(), rounds, requests)
    rows = [Figure("balancer", "control: plain mitmdump / plain mitmdump, CPU per request", _shown(control), "",
                   None, cmd)]
    for name, (command, traffic, aim) in scenarios(work).items():
        if only and name not in only:
            continue
        redis = paired.Redis(work) if "REDIS_PORT" in " ".join(command(0, [0])) else None
        try:
            port = redis.port if redis is not None else 0
            side = paired.Side(name, lambda listen, ports, c=command, r=str(port): [a.replace("REDIS_PORT", r)
                                                                                     for a in c(listen, ports)])
            got = paired.ratios(reference, side, traffic, rounds, requests)
        finally:
            if redis is not None:
                redis.stop()
        rows.append(Figure("balancer", f"{name} / plain mitmdump, CPU per request", _shown(got), f"<= {aim:.2f}",
                           paired.summary(got)[0] <= aim, cmd))
    shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these scenarios")
    args = parser.parse_args()
    rows = figures(args.rounds, args.requests, args.only)
    print(f"CPU per request against plain mitmdump, same core, at the same time; {args.rounds} rounds of "
          f"{args.requests} requests (4 keep-alive connections a side)")
    print(tabulate([[f.what, f.measured, f.aim + ("" if f.holds is not False else "  MISSED")] for f in rows],
                   headers=["scenario", "median (min-max)", "aim"], tablefmt="github"))
    return 1 if any(f.holds is False for f in rows) else 0


def _shown(values: list[float]) -> str:
    median, low, high = paired.summary(values)
    return f"{median:.3f} ({low:.3f}-{high:.3f})"


if __name__ == "__main__":
    raise SystemExit(main())
