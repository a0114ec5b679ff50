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

from stickyguard.addons.balancing import store

AIM_MB = 150.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000)
    args = parser.parse_args()
    now = [1000.0]
    table = store.MemoryStore(clock=lambda: now[0])
    names = [f"app{i}" for i in range(10)]
    keys = ["app:" + hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in range(args.n)]
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
    ok = grown <= AIM_MB * args.n / 1_000_000
    print(f"{args.n:,} sessions: {grown:.0f} MB ({grown * 1e6 / args.n:.0f} bytes each; aim <= {AIM_MB:g} MB "
          f"per million){'' if ok else '  MISSED'}; all purged in {purged_in:.2f} s once expired, {len(table)} left")
    return 0 if ok and not len(table) else 1


if __name__ == "__main__":
    sys.exit(main())
