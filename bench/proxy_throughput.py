"""Requests per second through mitmdump with the balancer, against plain mitmdump in reverse mode
to the same single backend, same run, same client (wrk when installed, else a Python client with
keep-alive connections). Loopback only; every process started here is stopped here.

    python bench/proxy_throughput.py [--seconds 5] [--connections 8] [--rounds 2]

Aim: balancer / plain >= 0.95.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16                  # headers and body leave in one segment...
    disable_nagle_algorithm = True      # ...and at once: no 40 ms delayed-ACK stalls
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops SYNs under load
    daemon_threads = True
    def handle_error(self, request, client_address): pass  # a client that hangs up is not news
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port: int) -> None:
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def python_client(port: int, seconds: float, connections: int, cookie: str | None = None) -> float:
    counts = [0] * connections
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
            conn.getresponse().read()
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def wrk_client(port: int, seconds: float, connections: int, cookie: str | None = None) -> float:
    header = ["-H", f"Cookie: {cookie}"] if cookie else []
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", *header, f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    client = wrk_client if shutil.which("wrk") else python_client
    backend_port = free_port()
    procs = [subprocess.Popen([sys.executable, "-c", BACKEND, str(backend_port)])]
    conf = tempfile.mkdtemp(prefix="sg-bench-")
    try:
        wait(backend_port)
        mitmdump = str(Path(sys.executable).with_name("mitmdump"))
        common = ["-q", "--set", f"confdir={conf}", "--set", "connection_strategy=lazy"]
        plain_port, lb_port = free_port(), free_port()
        procs.append(subprocess.Popen([mitmdump, *common, "--listen-port", str(plain_port),
                                       "--mode", f"reverse:http://127.0.0.1:{backend_port}"]))
        procs.append(subprocess.Popen(
            [mitmdump, *common, "--listen-port", str(lb_port), "--mode", "reverse:http://127.0.0.1:1",
             "-s", str(ROOT / "addons" / "balancer.py"), "--set", "balance_secret=" + "b" * 32,
             "--set", f"balance_backends=app1=http://127.0.0.1:{backend_port}"],
            env=dict(os.environ, PYTHONPATH=str(ROOT))))
        wait(plain_port)
        wait(lb_port)
        from stickyguard.addons.balancing import sealing

        # A session that already has its cookie (the common case), and clients that never keep one
        # (every request is a new session: place, seal, Set-Cookie).
        sticky = "sg_affinity=" + sealing.Sealer([b"b" * 32]).seal("app1")
        runs = {"plain": (plain_port, None), "balancer, sticky": (lb_port, sticky),
                "balancer, new each time": (lb_port, None)}
        best = dict.fromkeys(runs, 0.0)
        print(f"client: {client.__name__}, {args.connections} connections, {args.seconds:g} s per run")
        for r in range(args.rounds):
            for label, (port, cookie) in runs.items():
                rps = client(port, args.seconds, args.connections, cookie)
                best[label] = max(best[label], rps)
                print(f"  round {r + 1}: {label:24} {rps:8.0f} req/s")
        for label in list(runs)[1:]:
            print(f"best: {label}: {best[label]:.0f} req/s against plain {best['plain']:.0f} req/s, "
                  f"ratio {best[label] / best['plain']:.2f} (aim >= 0.95)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=15)
        shutil.rmtree(conf, ignore_errors=True)


if __name__ == "__main__":
    main()
