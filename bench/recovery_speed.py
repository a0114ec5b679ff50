"""How long recovering a hashed backend takes over a /16 with two ports (131,072 candidates).

    python bench/recovery_speed.py [--range 10.0.0.0/16:80,8080]

For each hash family stickyguard recovers, the worst case: the backend is the last candidate.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time

from stickyguard.audit import recovery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--range", default="10.0.0.0/16:80,8080")
    args = parser.parse_args()
    ranges = recovery.parse([args.range])
    ip, port, dial = list(recovery.candidates(ranges))[-1]
    url = f"http://{dial}".encode()
    targets = {
        "ingress-nginx md5": hashlib.md5(dial.encode()).hexdigest(),
        "ingress-nginx sha1": hashlib.sha1(dial.encode()).hexdigest(),
        "Caddy HMAC-SHA256, empty key": hmac.new(b"", dial.encode(), hashlib.sha256).hexdigest(),
        "Traefik SHA-256 (v3.3.4+)": hashlib.sha256(url).hexdigest()[:16],
    }
    print(f"{recovery.count(ranges):,} candidates ({args.range}); the backend is the last one, {dial}")
    for label, target in targets.items():
        start = time.perf_counter()
        found = recovery.recover(ranges, [target])
        took = time.perf_counter() - start
        print(f"  {label:32} {took:6.2f} s  {'recovered' if target in found else 'NOT FOUND'}")


if __name__ == "__main__":
    main()
