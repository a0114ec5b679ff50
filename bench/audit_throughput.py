"""Audit throughput: generate a HAR and a mitmproxy flow file of N exchanges, audit them, and
compare with the bare cost of reading the same file with the same reader in the same process.

    python bench/audit_throughput.py              # N = 100000
    python bench/audit_throughput.py -n 20000 --keep /tmp/bench

Prints exchanges per second for reading and auditing, the ratio audit / bare read (aim: <= 2x),
and peak traced memory at N/10 and N (aim for flow files: flat as N grows).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from mitmproxy import io as mitm_io
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import engine
from stickyguard.audit import rules as rule_data
from stickyguard.audit import sources

AFFINITY = [
    "BIGipServerpool_{k}={ip}.36895.0000; path=/; HttpOnly",
    "AWSALB=Zm9vYmFyYmF6{n}; Expires=Wed, 08 Jan 2025 10:00:00 GMT; Path=/",
    "SERVERID=app{n}; Path=/",
    "JSESSIONID=7D8A2F0B4C1E9A3D5F6B8C0E2A4D{n:04d}.node{k}; Path=/; Secure; HttpOnly",
    "NSC_Qspe-xxx={hex}45525d5f4f58455e445a4a423660; path=/; secure; httponly",
    "route={n}; Path=/; Domain={site}; Secure; HttpOnly; SameSite=Lax",
]
OTHER = [
    "_ga=GA1.2.{n}.1735725600; Path=/; Domain={site}; Max-Age=63072000",
    "theme=dark; Path=/; Max-Age=31536000; SameSite=Lax",
    "sid={hex}; Path=/; Secure; HttpOnly; SameSite=Lax",
]
DATE = "Wed, 01 Jan 2025 10:00:00 GMT"


def exchanges(n: int, seed: int = 1):
    """(url, set-cookie lines): 30% set an affinity cookie, 20% another cookie, half set none."""
    rng = random.Random(seed)
    for i in range(n):
        site = f"site{rng.randrange(20)}.example"
        host = rng.choice(["www.", "app.", "api.", ""]) + site
        fields = {"n": rng.randrange(100), "k": rng.randrange(4), "ip": rng.randrange(2**32), "site": site,
                  "hex": f"ffffffff{rng.getrandbits(32):08x}"}
        roll = rng.random()
        cookies = []
        if roll < 0.3:
            cookies.append(rng.choice(AFFINITY).format(**fields))
            if rng.random() < 0.3:
                cookies.append(rng.choice(OTHER).format(**fields))
        elif roll < 0.5:
            cookies.append(rng.choice(OTHER).format(**fields))
        scheme = "https" if rng.random() < 0.9 else "http"
        yield f"{scheme}://{host}/page/{i}", cookies


def write_har(path: Path, n: int) -> None:
    entries = []
    for url, cookies in exchanges(n):
        headers = [{"name": "date", "value": DATE}, {"name": "content-type", "value": "text/html"}]
        headers += [{"name": "set-cookie", "value": c} for c in cookies]
        entries.append({
            "startedDateTime": "2025-01-01T10:00:00.000Z", "time": 12.5,
            "request": {"method": "GET", "url": url, "httpVersion": "http/2.0",
                        "headers": [{"name": "sec-fetch-dest", "value": "document"}],
                        "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "", "httpVersion": "http/2.0", "headers": headers,
                         "cookies": [], "content": {"size": 0, "mimeType": "text/html"},
                         "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 10, "receive": 2.5},
        })
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"},
                                        "entries": entries}}))


def write_flows(path: Path, n: int) -> None:
    with open(path, "wb") as f:
        writer = mitm_io.FlowWriter(f)
        for url, cookies in exchanges(n):
            scheme, rest = url.split("://", 1)
            host, _, p = rest.partition("/")
            req = tutils.treq(scheme=scheme.encode(), host=host, port=443 if scheme == "https" else 80,
                              path=b"/" + p.encode(), headers=[(b"host", host.encode())])
            resp = tutils.tresp(headers=[(b"date", DATE.encode()), *[(b"set-cookie", c.encode()) for c in cookies]],
                                content=b"")
            writer.add(tflow.tflow(req=req, resp=resp))


def bare_read(path: Path) -> int:
    count = 0
    for _ in sources.open_capture(str(path)).exchanges():
        count += 1
    return count


def audit(path: Path, rules, catalog) -> tuple[int, int]:
    """Audit one capture; returns (inventory rows, findings), which bound the memory kept."""
    auditor = engine.Audit(rules, catalog)
    for exchange in sources.open_capture(str(path)).exchanges():
        auditor.add(exchange)
    report = auditor.report([], [], "bench", {"name": "stickyguard", "version": "bench"})
    return len(report.cookies), len(report.findings)


def timed(fn, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(fn, *args) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    result = fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="exchanges per capture (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the best counts")
    parser.add_argument("--keep", type=Path, help="write the captures here and keep them")
    parser.add_argument("--only", choices=["har", "flows"], help="measure one capture kind only")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="sg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    catalog = catalog_mod.load([rule_data.RULES_DIR])
    rules = rule_data.load_rules([rule_data.RULES_DIR], catalog.cookie_classes())
    small = max(args.n // 10, 1)
    try:
        print(f"stickyguard audit benchmark: N = {args.n} exchanges, {len(rules)} rules, best of {args.repeat}")
        kinds = [("HAR", write_har, "har", "har"), ("flow file", write_flows, "mitm", "flows")]
        for kind, writer, ext, key in kinds:
            if args.only and args.only != key:
                continue
            path, path_small = work / f"bench.{ext}", work / f"bench-small.{ext}"
            start = time.perf_counter()
            writer(path, args.n)
            writer(path_small, small)
            made = time.perf_counter() - start
            read_s = timed(bare_read, path, repeat=args.repeat)
            audit_s = timed(audit, path, rules, catalog, repeat=args.repeat)
            mem_small, (rows_small, found_small) = peak_memory(audit, path_small, rules, catalog)
            mem_big, (rows, found) = peak_memory(audit, path, rules, catalog)
            size = path.stat().st_size / 2**20
            print(f"\n{kind} ({size:.1f} MiB, written in {made:.1f} s)")
            print(f"  bare read : {read_s:7.2f} s  {args.n / read_s:10,.0f} exchanges/s")
            print(f"  audit     : {audit_s:7.2f} s  {args.n / audit_s:10,.0f} exchanges/s")
            print(f"  ratio     : {audit_s / read_s:7.2f} x the bare read (aim <= 2x)")
            print(f"  peak mem  : {mem_small / 2**20:7.1f} MiB at N={small}, {mem_big / 2**20:.1f} MiB at N={args.n} "
                  f"(x{mem_big / max(mem_small, 1):.2f} for x{args.n / small:.0f} exchanges)")
            print(f"  kept      : {rows_small} -> {rows} inventory rows, {found_small} -> {found} findings "
                  "(bounded by distinct cookies, not by N)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
