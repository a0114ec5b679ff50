"""Memory of the in-process session table: RSS grown by N sessions set the way app-cookie sets them
(keyed-hash keys, backend names as values), and the purge of all of them once they expire.

    python bench/table_memory.py [-n 1000000]

Aim: 1e6 sessions under 150 MB. Exits 1 when over.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure  # noqa: E402  (bench/ is not a package)

from stickyguard.addons.balancing import store  # noqa: E402

AIM_MB = 150.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def figures(n: int = 1_000_000) -> list[Figure]:
    now = [1000.0]
    table = store.MemoryStore(clock=lambda: now[0])
    names = [f"app{i}" for i in range(10)]
    keys = ["app:" + hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in range(n)]
    gc.collect()
    before = rss_mb()

    async def fill() -> None:
        for i, key in enumerate(keys):
            await table.set(key, names[i % 10], 1800)
    asyncio.run(fill())
    gc.collect()
    grown = rss_mb() - before
    now[0] += 1801
    started = time.perf_counter()
    while asyncio.run(table.purge()):
        pass
    purged_in = time.perf_counter() - started
    aim = AIM_MB * n / 1_000_000
    return [Figure("scale", f"the in-memory session table, {n:,} sessions", f"{grown:.0f} MB ({grown * 1e6 / n:.0f} "
                   f"bytes each); all purged in {purged_in:.2f} s once expired, {len(table)} left", f"<= {aim:g} MB",
                   grown <= aim and not len(table), "python bench/table_memory.py")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000)
    args = parser.parse_args()
    (row,) = figures(args.n)
    print(f"{row.what}: {row.measured} (aim {row.aim}){'' if row.holds else '  MISSED'}")
    return 0 if row.holds else 1


if __name__ == "__main__":
    sys.exit(main())
