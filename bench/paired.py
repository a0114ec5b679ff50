"""Paired CPU per request of two proxies: the only figure that holds on a shared 2-core machine.

Both proxies run at the same time, pinned to the same core (0), each in front of its own loopback
backends (on core 1, with the clients), each driven by its own keep-alive clients sending the same
requests with the same headers. CPU is utime+stime from /proc, read after a warm-up and after the
run; the ratio is taken per round, the two sides swap places every round, and the median over rounds
is reported with its min-max. Every process started here is stopped here.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "0123456789abcdef0123456789abcdef"
WARM_UP = 60  # requests per side before CPU is read: imports, first connections, caches

# A small backend: the application sets JSESSIONID on a request without one (app-cookie learns it).
BACKEND = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16                  # headers and body in one segment, at once: no delayed-ACK stalls
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200)
        if "JSESSIONID=" not in (self.headers.get("cookie") or ""):
            self.send_header("Set-Cookie", "JSESSIONID=%016x; Path=/; HttpOnly" % id(self))
        self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops SYNs under load
    daemon_threads = True
    def handle_error(self, request, client_address): pass
server = S(("127.0.0.1", 0), H)  # a port of its own choosing, said on stdout: no race for a free one
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(port: int, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"a process meant to listen on {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def mitmdump() -> str:
    return str(Path(sys.executable).with_name("mitmdump"))


def plain(listen: int, backends: list[int]) -> list[str]:
    """Plain mitmdump in reverse mode to the first backend: the floor a balancer is measured against."""
    return [mitmdump(), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(listen),
            "--mode", f"reverse:http://127.0.0.1:{backends[0]}", "--set", "connection_strategy=lazy"]


def recorder(work: Path, with_balancer: list[str] | None = None) -> Callable[[int, list[int]], list[str]]:
    """The recorder alone (plain reverse proxy to the first backend), or with the balancer."""
    def command(listen: int, backends: list[int]) -> list[str]:
        base = balancer(with_balancer)(listen, backends) if with_balancer is not None else plain(listen, backends)
        out = work / f"recording-{listen}.jsonl"
        return [*base, "-s", str(ROOT / "addons" / "recorder.py"), "--set", f"record_file={out}"]
    return command


def balancer(extra: list[str], tree: Path | None = None) -> Callable[[int, list[int]], list[str]]:
    """mitmdump with the balancer (from `tree`'s stickyguard, default the installed one) over the backends."""
    script = (tree / "stickyguard" / "addons" if tree else ROOT / "addons") / "balancer.py"

    def command(listen: int, backends: list[int]) -> list[str]:
        args = [mitmdump(), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(listen),
                "--mode", "reverse:http://127.0.0.1:1", "-s", str(script), "--set", "connection_strategy=lazy",
                "--set", f"balance_secret={SECRET}", "--set", "balance_health="]
        for i, port in enumerate(backends):
            args += ["--set", f"balance_backends=b{i}=http://127.0.0.1:{port}"]
        return args + extra
    return command


@dataclasses.dataclass(frozen=True)
class Side:
    label: str
    command: Callable[[int, list[int]], list[str]]  # (listen port, backend ports) -> argv
    pythonpath: Path | None = None  # a shadow tree (balancer_versions.py)


@dataclasses.dataclass(frozen=True)
class Traffic:
    """What each client sends: a fixed Cookie header, and whether it keeps the cookies it is given."""
    cookie: str = ""
    jar: bool = True
    connections: int = 4


def drive(port: int, requests: int, traffic: Traffic) -> None:
    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        kept: dict[str, str] = {}
        for _ in range(n):
            cookies = "; ".join([traffic.cookie] * bool(traffic.cookie) + [f"{k}={v}" for k, v in kept.items()])
            conn.request("GET", "/", headers={"Host": "shop.example", "User-Agent": "stickyguard-bench",
                                              **({"Cookie": cookies} if cookies else {})})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"bench: status {answer.status} from 127.0.0.1:{port}")
            if traffic.jar:
                for line in answer.headers.get_all("set-cookie") or []:
                    name, _, value = line.split(";", 1)[0].partition("=")
                    kept[name.strip()] = value.strip()
        conn.close()

    each = max(requests // traffic.connections, 1)
    threads = [threading.Thread(target=client, args=(each,)) for _ in range(traffic.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def one_round(sides: tuple[Side, Side], traffic: Traffic, requests: int, backends: int) -> tuple[float, float]:
    """CPU seconds per request of each side, both driven at the same time."""
    servers = [subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", BACKEND], stdout=subprocess.PIPE,
                                text=True) for _ in range(backends * len(sides))]
    said = [int(s.stdout.readline()) for s in servers]  # type: ignore[union-attr]
    backend_ports = [said[i * backends:(i + 1) * backends] for i in range(len(sides))]
    listen = [free_port() for _ in sides]
    proxies = []
    try:
        for side, port, ports in zip(sides, listen, backend_ports, strict=True):
            env = dict(os.environ, **({"PYTHONPATH": str(side.pythonpath)} if side.pythonpath else {}))
            proxies.append(subprocess.Popen(["taskset", "-c", "0", *side.command(port, ports)], env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port, proc in zip(listen, proxies, strict=True):
            wait_for(port, proc)
        for ports in backend_ports:
            for port in ports:
                wait_for(port)
        for port in listen:
            drive(port, WARM_UP, traffic)
        before = [cpu_seconds(p.pid) for p in proxies]
        clients = [threading.Thread(target=drive, args=(port, requests, traffic)) for port in listen]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        used = [cpu_seconds(p.pid) - b for p, b in zip(proxies, before, strict=True)]
    finally:
        for proc in proxies + servers:
            proc.terminate()
        for proc in proxies + servers:
            proc.wait(timeout=15)
    return used[0] / requests, used[1] / requests


def ratios(reference: Side, scenario: Side, traffic: Traffic, rounds: int, requests: int,
           backends: int = 3) -> list[float]:
    """scenario/reference CPU per request, per round; the two swap places every round."""
    out = []
    for r in range(rounds):
        if r % 2 == 0:
            ref, sc = one_round((reference, scenario), traffic, requests, backends)
        else:
            sc, ref = one_round((scenario, reference), traffic, requests, backends)
        out.append(sc / ref)
    return out


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def check_machine() -> str | None:
    """Why the paired figures cannot be taken here, or None."""
    if not shutil.which("taskset"):
        return "taskset (util-linux) is needed to pin both proxies to one core"
    if (os.cpu_count() or 1) < 2:
        return "two cores are needed: one for the proxies, one for backends and clients"
    return None


class Redis:
    """A redis-server of the bench's own on loopback, which it stops and starts (its data saved on stop)."""

    def __init__(self, workdir: Path):
        self.port, self.workdir, self.proc = free_port(), workdir, None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save",
                                      "3600 1", "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
