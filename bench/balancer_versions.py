"""Paired CPU per request of the balancer at two git revisions (or one against itself, the control).

Both proxies run at the same time, pinned to the same core, each with its own loopback backend and its
own keep-alive client; CPU is utime+stime from /proc; the ratio is taken per round (order alternates)
and the median over rounds is printed with its min-max, after a control pair of the base revision.

    .venv/bin/python bench/balancer_versions.py BASE [--rounds 5] [--requests 800] [--set NAME=VALUE ...]

BASE is any git revision (e.g. HEAD~3); the other side is the working tree. `--set` options go to the
working tree's balancer only (e.g. balance_access_log=/tmp/access.log to price the access log).
Loopback only; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKEND = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16                  # headers and body in one segment, at once: no delayed-ACK stalls
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def shadow(tree: Path, where: Path) -> Path:
    """A folder whose `stickyguard` package is `tree`'s audit/ and addons/ (PYTHONPATH wins over the
    editable install, whose finder comes after the path finder)."""
    audit = where / "stickyguard" / "audit"
    audit.mkdir(parents=True)
    for entry in (tree / "audit").iterdir():  # entry by entry, so rules/ can join as rules_data (as installed)
        (audit / entry.name).symlink_to(entry)
    (audit / "rules_data").symlink_to(tree / "rules")
    (where / "stickyguard" / "addons").symlink_to(tree / "addons")
    return where


def start_proxy(path: Path, backend: int, port: int, extra: list[str]) -> subprocess.Popen:
    mitmdump = str(Path(sys.executable).with_name("mitmdump"))
    args = ["taskset", "-c", "0", mitmdump, "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
            "--mode", "reverse:http://127.0.0.1:1", "-s", str(path / "stickyguard" / "addons" / "balancer.py"),
            "--set", "connection_strategy=lazy", "--set", "balance_secret=0123456789abcdef0123456789abcdef",
            "--set", "balance_health=", "--set", f"balance_backends=a=http://127.0.0.1:{backend}", *extra]
    return subprocess.Popen(args, env=dict(os.environ, PYTHONPATH=str(path)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def drive(port: int, requests: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    cookie = None
    for _ in range(requests):
        headers = {"Host": "shop.example", **({"Cookie": cookie} if cookie else {})}
        conn.request("GET", "/", headers=headers)
        answer = conn.getresponse()
        answer.read()
        cookie = (answer.getheader("set-cookie") or cookie or "").split(";")[0] or None
    conn.close()


def one_round(trees: tuple[Path, Path], extras: tuple[list[str], list[str]], requests: int) -> tuple[float, float]:
    """CPU seconds per request of each of the two proxies, run at the same time."""
    backends = [free_port(), free_port()]
    servers = [subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", BACKEND, str(p)]) for p in backends]
    ports = [free_port(), free_port()]
    proxies = [start_proxy(t, b, p, e) for t, b, p, e in zip(trees, backends, ports, extras, strict=True)]
    try:
        for port in ports + backends:
            wait_for(port)
        for port in ports:
            drive(port, 50)  # warm-up: imports, first connections
        before = [cpu_seconds(p.pid) for p in proxies]
        clients = [threading.Thread(target=drive, args=(port, requests)) for port in ports]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        used = [cpu_seconds(p.pid) - b for p, b in zip(proxies, before, strict=True)]
    finally:
        for proc in proxies + servers:
            proc.terminate()
        for proc in proxies + servers:
            proc.wait()
    return used[0] / requests, used[1] / requests


def pair(base: Path, other: Path, extra: list[str], rounds: int, requests: int) -> list[float]:
    """other/base per round, the order of the two alternating."""
    ratios = []
    for r in range(rounds):
        if r % 2 == 0:
            b, o = one_round((base, other), ([], extra), requests)
        else:
            o, b = one_round((other, base), (extra, []), requests)
        ratios.append(o / b)
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the git revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an option for the working tree's balancer only")
    args = parser.parse_args()
    if not shutil.which("taskset"):
        print("bench: taskset (util-linux) is needed to pin both proxies to one core", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="sg-versions-"))
    tree = work / "base-tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), args.base], check=True)
    try:
        base, current = shadow(tree, work / "base"), shadow(ROOT, work / "current")
        extra = [x for s in args.set for x in ("--set", s)]
        for label, ratios in (("control: base/base", pair(base, base, [], args.rounds, args.requests)),
                              (f"working tree/{args.base}", pair(base, current, extra, args.rounds, args.requests))):
            print(f"{label}: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}) "
                  f"over {len(ratios)} rounds of {args.requests} requests each")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
