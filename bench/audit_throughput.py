"""The audit against json.load of the same file, paired: both run at the same time on the same core, CPU
time and peak memory of each process from the kernel (wait4), medians over rounds with min-max, and a
control pair of json.load against itself. The audit runs as a user runs it, start-up and the JSON report
included. Also: the reader alone against json.load (what no audit can go below), start-up alone, and peak
memory as a HAR grows to 500 MB (streamed, so flat).

    python bench/audit_throughput.py [--rounds 5] [--keep DIR]

Two HARs of about 100 MB: one like a browser's export (bodies, a few thousand entries), and the worst
case, 150,000 exchanges of headers only, where the per-cookie work counts most. Exits 1 on a missed aim.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure  # noqa: E402  (bench/ is not a package)

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


def write_har(path: Path, n: int, body: int = 0) -> None:
    """A HAR of n exchanges; with `body`, each response carries that many bytes of page text, as a
    browser's export does."""
    rng = random.Random(2)
    words = ["<div class=item>", "cart", "price", "</div>", "<a href=/p/{n}>", "session", "\\n", "é"]
    with open(path, "w", encoding="utf-8") as out:  # an entry at a time: the bench itself stays small
        out.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": [')
        for i, (url, cookies) in enumerate(exchanges(n)):
            out.write((", " if i else "") + json.dumps(_entry(url, cookies, _content(rng, words, body))))
        out.write("]}}")


def _entry(url: str, cookies: list[str], content: dict) -> dict:
    headers = [{"name": "date", "value": DATE}, {"name": "content-type", "value": "text/html"}]
    headers += [{"name": "set-cookie", "value": c} for c in cookies]
    return {
        "startedDateTime": "2025-01-01T10:00:00.000Z", "time": 12.5,
        "request": {"method": "GET", "url": url, "httpVersion": "http/2.0",
                    "headers": [{"name": "sec-fetch-dest", "value": "document"}],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "", "httpVersion": "http/2.0", "headers": headers,
                     "cookies": [], "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1},
        "cache": {}, "timings": {"send": 0, "wait": 10, "receive": 2.5},
    }


def _content(rng: random.Random, words: list[str], size: int) -> dict:
    if not size:
        return {"size": 0, "mimeType": "text/html"}
    text = " ".join(rng.choice(words) for _ in range(size // 6))[:size]
    return {"size": len(text), "mimeType": "text/html", "text": text}



# The audit as `stickyguard audit` runs it, which says its own peak RSS (VmHWM) on stderr as it exits: a child's
# ru_maxrss also counts the bench's own memory, copied at fork before the exec.
AUDIT_AND_PEAK = """
import runpy, sys
sys.argv = ["stickyguard", *sys.argv[1:]]
try:
    runpy.run_module("stickyguard.audit", run_name="__main__")
finally:
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(f"PEAK_KB {peak}", file=sys.stderr)
"""
AUDIT = [sys.executable, "-c", AUDIT_AND_PEAK, "audit", "--format", "json", "--no-progress"]
JSON_LOAD = [sys.executable, "-c", "import json, sys; json.load(open(sys.argv[1], 'rb'))"]
# What an audit cannot do without: its reader (the file streamed, hashed, each entry decoded as an exchange)
# and the public suffix list loaded, with no cookie judged and no report.
READER_ALONE = [sys.executable, "-c", "import sys; from stickyguard.audit import cookies, sources; "
                "cookies.registrable_domain('a.example'); "
                "[None for _ in sources.open_capture(sys.argv[1]).exchanges()]"]
RATIO_AIM, STARTUP_AIM, MEMORY_AIM_MB = 1.3, 0.3, 150


# Children run as an installed Python runs them, with bytecode cached (a wheel's install compiles it; this
# machine's environment may say PYTHONDONTWRITEBYTECODE, which would make every start compile every module).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(argv: list[str], pin: bool = True) -> subprocess.Popen:
    return subprocess.Popen((["taskset", "-c", "0"] if pin else []) + argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=CHILD_ENV)


def finish(proc: subprocess.Popen) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a child: CPU from the kernel's accounting (wait4), the peak as the child
    said it (0 for a child that does not say it)."""
    said = proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    peaks = [int(line.split()[1]) for line in said.splitlines() if line.startswith("PEAK_KB ")]
    return usage.ru_utime + usage.ru_stime, (peaks[-1] / 1024 if peaks else 0.0)


def paired(a: list[str], b: list[str], rounds: int) -> tuple[list[float], list[float]]:
    """a/b CPU per round, both on core 0 at the same time, the one started first alternating; and a's peaks."""
    ratios, peaks = [], []
    for r in range(rounds):
        first, second = (a, b) if r % 2 == 0 else (b, a)
        p1, p2 = run(first), run(second)
        (c1, m1), (c2, m2) = finish(p1), finish(p2)  # each reads its child's stderr to the end: no pipe fills
        for proc, argv in ((p1, first), (p2, second)):
            if proc.returncode not in (0, 1, 2):  # 1 and 2: findings and notices, as the CLI says them
                raise SystemExit(f"bench: {' '.join(argv)} exited with {proc.returncode}")
        (ca, ma), cb = ((c1, m1), c2) if first is a else ((c2, m2), c1)
        ratios.append(ca / cb)
        peaks.append(ma)
    return ratios, peaks


def shown(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def figures(rounds: int = 5, work: Path | None = None) -> list[Figure]:
    own = work is None
    work = work or Path(tempfile.mkdtemp(prefix="sg-audit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    out = work / "report.json"
    cmd = "python bench/audit_throughput.py"
    rows = []
    try:
        one = work / "one.har"
        write_har(one, 1)
        finish(run(AUDIT + [str(one), "-o", str(out)], pin=False))  # warm: bytecode and the rule cache written
        browser, headers = work / "browser.har", work / "headers.har"
        write_har(browser, 8_000, body=12_000)
        write_har(headers, 150_000)
        control, _ = paired(JSON_LOAD + [str(headers)], JSON_LOAD + [str(headers)], rounds)
        rows.append(Figure("audit", "control: json.load / json.load, same file, same core", shown(control, 3),
                           "", None, cmd))
        for path, what in ((browser, "a HAR like a browser's export (8,000 entries with bodies)"),
                           (headers, "the worst case: 150,000 exchanges of headers only")):
            size = path.stat().st_size / 1e6
            ratios, peaks = paired(AUDIT + [str(path), "-o", str(out)], JSON_LOAD + [str(path)], rounds)
            median = statistics.median(ratios)
            rows.append(Figure("audit", f"{what}, {size:.0f} MB: the whole audit (start-up, JSON report) / "
                               "json.load, CPU", shown(ratios), f"<= {RATIO_AIM}", median <= RATIO_AIM, cmd))
            floor, _ = paired(READER_ALONE + [str(path)], JSON_LOAD + [str(path)], rounds)
            rows.append(Figure("audit", f"{what}: the reader alone (streamed, hashed, each entry an exchange) "
                               "and the public suffix list, no cookie judged / json.load, CPU", shown(floor), "", None,
                               cmd))
        startup = [finish(run(AUDIT + [str(one), "-o", str(out)], pin=False))[0] for _ in range(7)]
        rows.append(Figure("audit", "start-up: a one-exchange HAR audited, CPU seconds, the rule cache warm",
                           shown(startup), f"<= {STARTUP_AIM} s", statistics.median(startup) <= STARTUP_AIM, cmd))
        for n in (68_000, 680_000):
            big = work / f"grow-{n}.har"
            write_har(big, n)
            size = big.stat().st_size / 1e6
            _, peak = finish(run(AUDIT + [str(big), "-o", str(out)], pin=False))
            big.unlink()
            rows.append(Figure("audit", f"peak memory, a {size:.0f} MB HAR audited ({n:,} exchanges)",
                               f"{peak:.0f} MB", f"<= {MEMORY_AIM_MB} MB", peak <= MEMORY_AIM_MB, cmd))
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the captures here and keep them")
    args = parser.parse_args()
    rows = figures(args.rounds, args.keep)
    for f in rows:
        verdict = "" if f.holds is None else ("" if f.holds else "  MISSED")
        print(f"{f.what}: {f.measured}{'  aim ' + f.aim if f.aim else ''}{verdict}")
    return 1 if any(f.holds is False for f in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
