"""Every performance figure with its aim, in one table: the balancer against plain mitmdump (paired), the
costs that must not grow with the pool, and the audit against json.load (paired). `make bench` runs it.

    python bench/run_all.py [--readme] [--quick]

Prints the table, keeps it in bench/latest.md, and with --readme pastes it into the README's performance
section (a test holds the two equal). --quick takes fewer rounds, for trying the harness, not for figures.
Exits 1 when a figure misses its aim.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audit_throughput  # noqa: E402  (bench/ is not a package)
import figures  # noqa: E402
import health_cost  # noqa: E402
import proxy_throughput  # noqa: E402
import routing_cost  # noqa: E402
import table_memory  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="paste the table into README.md")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (the figures are then not comparable)")
    args = parser.parse_args()
    rounds = 2 if args.quick else 5
    started = time.monotonic()
    rows = proxy_throughput.figures(rounds=rounds, requests=400 if args.quick else 800)
    rows += routing_cost.figures(rounds=rounds)
    rows += health_cost.figures(traffic=False) + health_cost.figures(traffic=True)
    rows += table_memory.figures()
    rows += audit_throughput.figures(rounds=rounds)
    import mitmproxy.version

    heading = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"mitmproxy {mitmproxy.version.VERSION}, {rounds} rounds, in {(time.monotonic() - started) / 60:.0f} "
               "minutes. Ratios are medians with min-max; CPU is the kernel's utime+stime of each process.")
    text = figures.table(rows, heading)
    print(text)
    figures.LATEST.write_text(text, encoding="utf-8")
    if args.readme:
        figures.paste_into_readme(text)
    return 1 if any(f.holds is False for f in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
