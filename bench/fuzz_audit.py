"""Fuzz the audit: thousands of generated and mutated captures, each audited into every report format.

    python bench/fuzz_audit.py [--inputs 3000] [--seed 1] [--workers 2]

Inputs are the test captures (HAR, flow files, header dumps, a recording) cut short, bit-flipped,
spliced with hostile values, and made from scratch with random cookies. Each is audited the way the
command line does it (`stickyguard audit FILE --format F -o FILE`) in worker processes; a watchdog
(SIGALRM) stops an input that runs past --timeout. Prints the exit codes seen, the slowest input, the
workers' peak memory, and every input that crashed (an exception, not an exit code) or hung; exits 1
when any did. Loopback only: nothing here touches the network.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SEEDS = [*sorted((DATA / "captures").glob("*.*")), *sorted((DATA / "bad").glob("*.*"))]
FORMATS = ("table", "markdown", "json", "sarif", "html")
HOSTILE = [
    "1::" + "abcdef" * 7 + "::", "%" * 3000, "a@" * 2000, "\x1b]0;title\x07", "\r\n", "\u2028", "\ud800", "\udcff",
    "[" * 3000, "{" * 3000, "BIGipServerp=1677787402.36895.0000", "eyJhbGciOiJIUzI1NiJ9." + "W" * 3000 + ".x",
    "9999-12-31T23:59:59-01:00", "Expires=Fri, 31 Dec 9999 23:59:59 GMT", "\x00", "\xff", "\\", '"', "::ffff:10.0.0.1",
]


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def random_cookie(rng: random.Random) -> str:
    alphabet = "abcdefABCDEF0123456789:.;=,/~|%@[]-_ \t\"\\\x1b\u2028\ud800é"
    name = rng.choice(["SERVERID", "BIGipServerpool", "route", "JSESSIONID", "AWSALB", "NSC_x", "lb", "x"])
    if rng.random() < 0.3:
        value = rng.choice(HOSTILE)
    else:
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
    attrs = rng.sample(["Path=/", "Secure", "HttpOnly", "SameSite=None", "Max-Age=-1", "Max-Age=999999999999",
                        "Domain=.example.com", "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Partitioned"],
                       rng.randint(0, 4))
    return "; ".join([f"{name}={value}", *attrs])


def generated(rng: random.Random) -> bytes:
    kind = rng.choice(["har", "headers", "recording"])
    if kind == "headers":
        return "".join(f"Set-Cookie: {random_cookie(rng)}\n" for _ in range(rng.randint(1, 20))).encode(
            "utf-8", "surrogatepass")
    if kind == "har":
        entries = [{"request": {"method": "GET", "url": rng.choice(["https://shop.example/", "http://a.b/?q=1", "x"]),
                                "headers": [{"name": "Referer", "value": rng.choice(HOSTILE)}]},
                    "response": {"status": rng.choice([200, 302, "x", None]),
                                 "headers": [{"name": "Set-Cookie", "value": random_cookie(rng)}
                                             for _ in range(rng.randint(0, 10))]}}
                   for _ in range(rng.randint(1, 10))]
        return json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()
    lines = []
    for _ in range(rng.randint(1, 10)):
        lines.append(json.dumps({"v": 1, "time": None, "method": "GET", "url": "https://shop.example/", "status": 200,
                                 "request_cookies": [], "backend_headers": {}, "set_cookies": [{
                                     "name": rng.choice(["BIGipServerweb", "x", "\ud800"]),
                                     "value": rng.choice(HOSTILE),
                                     "attributes": "", "vendor": rng.choice([None, "f5-bigip", "nope"]),
                                     "vendor_name": None, "affinity": rng.choice([True, False, "yes"]),
                                     "classified_by": None,
                                     "decoded": rng.choice([None, {"ip": "10.0.0.1"}, {"pool": "p"}, {"x": 1}])}]}))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def mutated(rng: random.Random, seeds: list[bytes]) -> bytes:
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["cut", "flip", "splice", "repeat"])
        if op == "cut" and data:
            del data[rng.randrange(len(data)):]
        elif op == "flip" and data:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == "splice":
            at = rng.randint(0, len(data))
            data[at:at] = rng.choice(HOSTILE).encode("utf-8", "surrogatepass")
        elif op == "repeat" and data:
            a = rng.randrange(len(data))
            b = min(len(data), a + rng.randint(1, 200))
            data[a:a] = data[a:b] * rng.randint(1, 50)
    return bytes(data)


def audit_one(job: tuple[str, str, float]) -> tuple[str, str, float, int]:
    """In a worker: audit one input; (input, outcome, seconds, worker peak RSS in kB)."""
    from stickyguard.audit import cli

    path, fmt, timeout = job
    signal.signal(signal.SIGALRM, _alarm)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        sys.stdout = open(os.devnull, "w")
        sys.stderr = open(os.devnull, "w")
        try:
            outcome = f"exit {cli.main(['audit', path, '--format', fmt, '-o', path + '.' + fmt, '--no-progress'])}"
        except SystemExit as e:
            outcome = f"exit {e.code}"
    except Hang:
        outcome = "hang"
    except BaseException:  # noqa: BLE001 (any exception is what this run looks for)
        outcome = "crash " + traceback.format_exc().strip().splitlines()[-1][:200]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return path, outcome, time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before an input counts as hung")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seeds = [p.read_bytes() for p in SEEDS if p.is_file()]
    seeds.append(base64.b64decode(base64.b64encode(b"\x00" * 10)))
    with tempfile.TemporaryDirectory(prefix="stickyguard-fuzz-") as work:
        jobs = []
        for i in range(args.inputs):
            data = generated(rng) if rng.random() < 0.4 else mutated(rng, seeds)
            path = Path(work) / f"input-{i:05d}"
            path.write_bytes(data)
            jobs.append((str(path), FORMATS[i % len(FORMATS)], args.timeout))
        started = time.monotonic()
        with multiprocessing.get_context("fork").Pool(args.workers, maxtasksperchild=500) as pool:
            results = pool.map(audit_one, jobs, chunksize=20)
        wall = time.monotonic() - started
    outcomes = Counter("crash" if outcome.startswith("crash") else outcome for _, outcome, _, _ in results)
    slowest = max(results, key=lambda r: r[2])
    print(f"{len(results)} inputs in {wall:.0f} s with {args.workers} workers (seed {args.seed})")
    print("outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    print(f"slowest input: {slowest[2]:.2f} s; median {sorted(r[2] for r in results)[len(results) // 2] * 1000:.0f} ms")
    print(f"peak worker memory: {max(r[3] for r in results) / 1024:.0f} MB")
    bad = [(p, o) for p, o, _, _ in results if not o.startswith("exit") or o not in ("exit 0", "exit 1", "exit 2")]
    for path, outcome in bad[:20]:
        print(f"  {Path(path).name}: {outcome}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
