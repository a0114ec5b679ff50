"""CPU the active health checks take: N backends (one helper process listening on N loopback ports,
answering HTTP), probed by the balancer's Health for T seconds; the share of a core is the probing
process's CPU time over the wall time. With `--traffic`, every backend also answers a request in real
traffic each second (what a busy pool looks like), which stands in for its probe.

    python bench/health_cost.py [--backends 1000] [--seconds 10] [--traffic]

Aim: 1,000 backends probed every 2 s for at most 2 % of a core. Exits 1 when over.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure  # noqa: E402  (bench/ is not a package)

from stickyguard.addons.balancing import backends  # noqa: E402
from stickyguard.addons.balancing import health  # noqa: E402

AIM = 0.02
SERVERS = r"""
import asyncio, sys
async def answer(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    servers = [await asyncio.start_server(answer, "127.0.0.1", 0) for _ in range(int(sys.argv[1]))]
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def run(pool: list[backends.Backend], seconds: float, traffic: bool) -> float:
    tracker = health.Health(pool, health.parse_check_spec("tcp"))
    stop = time.monotonic() + seconds
    cpu = time.process_time()

    async def probing() -> None:
        while time.monotonic() < stop:
            await tracker.check_all()
            await asyncio.sleep(tracker.spec.interval)

    async def requests() -> None:
        while traffic and time.monotonic() < stop:
            for b in pool:
                tracker.request_done(b, True)
            await asyncio.sleep(1.0)

    await asyncio.gather(probing(), requests())
    return (time.process_time() - cpu) / seconds


def figures(count: int = 1000, seconds: float = 10, traffic: bool = False) -> list[Figure]:
    helper = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", SERVERS, str(count)],
                              stdout=subprocess.PIPE, text=True)
    try:
        ports = [int(p) for p in helper.stdout.readline().split()]  # type: ignore[union-attr]
        pool = [backends.Backend(backends.parse_backend_spec(f"b{i}=http://127.0.0.1:{p}"))
                for i, p in enumerate(ports)]
        share = asyncio.run(run(pool, seconds, traffic))
    finally:
        helper.terminate()
        helper.wait(timeout=10)
    return [Figure("scale", f"health checks of {count:,} backends (tcp, every 2 s"
                   f"{', the backends also answering traffic' if traffic else ', idle'}), share of a core",
                   f"{share * 100:.1f} %", f"<= {AIM * 100:g} %", share <= AIM,
                   f"python bench/health_cost.py{' --traffic' if traffic else ''}")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--traffic", action="store_true")
    args = parser.parse_args()
    (row,) = figures(args.backends, args.seconds, args.traffic)
    print(f"{row.what}: {row.measured} (aim {row.aim}){'' if row.holds else '  MISSED'}")
    return 0 if row.holds else 1


if __name__ == "__main__":
    sys.exit(main())
