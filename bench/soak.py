"""The balancer under load and faults, in each affinity kind: `make soak`.

K keep-alive clients run sessions for T seconds (half of them short, half long enough to live through
the faults) through `stickyguard balance` (the real
launcher) in front of three loopback backends, while faults are injected on a schedule: a backend
SIGKILLed and restarted, a backend that answers garbage and one that never answers (each swapped in on
a live backend's port, then swapped back), Redis stopped and started (app-cookie on Redis), the proxy
restarted (app-cookie on SQLite). Every response names the backend that answered.

    python bench/soak.py [--seconds 30] [--clients 8] [--session-requests 20] [--long-session-requests 3000]
                         [--only RUN ...]

It prints one table: requests, errors, stickiness violations, p50/p99 latency, the proxy's memory at
start and end, the session table's entries at the end, and the time to recover from each fault. It
exits 1 when a target is missed:
- no errors (only requests sent while the proxy itself was restarting are excused);
- no stickiness violations: a session served by another backend than its last one without a recorded
  move. Read from the balancer's access log: each session comes from a loopback address of its own,
  so the log's keyed client hash names it; a change is recorded when the decision was not `sticky`
  (new, moved, rejected, unstored) or the request failed over in flight;
- memory flat once sessions expire: the in-memory table empty and the proxy's RSS grown by at most
  MEMORY_SLACK_MB after the load stops and the sessions' idle timeout passes.
Loopback only; bounded in time and requests; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import paired  # noqa: E402  (bench/ is not a package)

IDLE_TIMEOUT = 5  # seconds: sessions expire soon after the load stops
MEMORY_SLACK_MB = 12.0
POLL = 0.2

# A backend: answers with its name and starts a session (JSESSIONID with a .NAME route suffix) when the
# client has none, or one whose route names another backend (a failed-over session gets this backend's
# route, as Tomcat's JvmRouteBinderValve does); or answers garbage; or reads requests and never answers.
BACKEND = r"""
import asyncio, itertools, sys
name, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ids = itertools.count(1)
async def take(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if mode == "garbage":
                writer.write(b"\x16\x03\x01 not HTTP\r\n\r\n"); await writer.drain(); continue
            if mode == "hang":
                await asyncio.sleep(3600)
            extra = b""
            if b"JSESSIONID=" not in head or b"." + name.encode() + b"\r" not in head.replace(b";", b"\r"):
                extra = b"Set-Cookie: JSESSIONID=%016x.%s; Path=/\r\n" % (next(ids) * 7919, name.encode())
            body = name.encode()
            writer.write(b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(take, "127.0.0.1", port, backlog=1024, reuse_address=True)
    await server.serve_forever()
asyncio.run(main())
"""


class Backend:
    def __init__(self, name: str):
        self.name, self.port, self.proc = name, paired.free_port(), None
        self.run("ok")

    def run(self, mode: str) -> None:
        self.stop()
        self.proc = subprocess.Popen([sys.executable, "-c", BACKEND, self.name, str(self.port), mode])
        paired.wait_for(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Proxy:
    def __init__(self, work: Path, backends: list[Backend], extra: list[str]):
        self.work, self.port, self.sock = work, paired.free_port(), work / "admin.sock"
        self.args = [sys.executable, "-m", "stickyguard.addons.launch", "balance", "--listen",
                     f"127.0.0.1:{self.port}", "--secret-file", str(work / "secret"), "--confdir",
                     str(work / "conf"), "--admin", f"unix:{self.sock}", "--idle-timeout", str(IDLE_TIMEOUT),
                     "--health", "tcp,interval=1,timeout=0.5,rise=2,fall=2", "--response-timeout", "2",
                     "--access-log", str(work / "access.log"), *extra]
        for b in backends:
            self.args += ["--backend", f"{b.name}=http://127.0.0.1:{b.port},route={b.name}"]
        self.proc: subprocess.Popen | None = None
        self.log = open(work / "proxy.log", "ab")  # noqa: SIM115  (closed in stop)
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        paired.wait_for(self.port, self.proc)
        deadline = time.monotonic() + 10
        while not self.sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop(close_log=False)
        self.start()

    def stop(self, close_log: bool = True) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
        if close_log:
            self.log.close()

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def metrics(self) -> dict[tuple[str, tuple], float]:
        from prometheus_client.parser import text_string_to_metric_families

        from stickyguard.addons import ctl

        status, text = ctl.fetch(f"unix:{self.sock}", "GET", "/metrics", timeout=5)
        if status != 200:
            raise OSError(f"/metrics answered {status}")
        return {(m.name, tuple(sorted(m.labels.items()))): m.value
                for family in text_string_to_metric_families(text.decode()) for m in family.samples}

    def up(self, backend: str) -> bool:
        try:
            return self.metrics().get(("stickyguard_backend_up", (("backend", backend),)), 0) == 1
        except OSError:
            return False


@dataclasses.dataclass
class Fault:
    name: str
    at: float  # share of the run
    act: Callable[[], None]
    recovered: Callable[[], bool]  # polled from the moment it is injected
    excuses_errors: bool = False  # requests sent while it lasts may fail (the proxy itself restarting)
    started: float = 0.0
    ended: float | None = None  # when `act` returned
    recovered_after: float | None = None


@dataclasses.dataclass
class Sample:
    session: int
    started: float
    took: float
    backend: str | None  # None: an error
    error: str = ""


def client(port: int, until: float, session_requests: int, first_session: int, step: int,
           samples: list[Sample], lock: threading.Lock) -> None:
    session = first_session
    while time.monotonic() < until:
        # Each session from its own loopback address: ip affinity sees distinct clients.
        source = f"127.0.{session % 250 + 1}.{session // 250 % 250 + 1}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(source, 0))
        jar: dict[str, str] = {}
        for _ in range(session_requests):
            if time.monotonic() >= until:
                break
            started = time.monotonic()
            try:
                cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
                conn.request("GET", "/", headers={"Host": "shop.example", **({"Cookie": cookie} if cookie else {})})
                answer = conn.getresponse()
                body = answer.read().decode(errors="replace")
                for line in answer.headers.get_all("set-cookie") or []:
                    name, _, value = line.split(";", 1)[0].partition("=")
                    jar[name.strip()] = value.strip()
                sample = Sample(session, started, time.monotonic() - started, body if answer.status == 200 else None,
                                "" if answer.status == 200 else f"status {answer.status}")
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(source, 0))
                sample = Sample(session, started, time.monotonic() - started, None, type(e).__name__)
            with lock:
                samples.append(sample)
        conn.close()
        session += step


def faults_for(run: str, backends: list[Backend], proxy: Proxy, redis: paired.Redis | None) -> list[Fault]:
    b1, b2, b3 = backends

    def back(b: Backend) -> Callable[[], bool]:
        return lambda: proxy.up(b.name)

    def gone(b: Backend) -> Callable[[], bool]:
        return lambda: not proxy.up(b.name)

    faults = [
        Fault(f"{b3.name} killed", 0.10, b3.stop, gone(b3)),
        Fault(f"{b3.name} restarted", 0.25, lambda: b3.run("ok"), back(b3)),
        Fault(f"{b2.name} answers garbage", 0.35, lambda: b2.run("garbage"), gone(b2)),
        Fault(f"{b2.name} healthy again", 0.50, lambda: b2.run("ok"), back(b2)),
        Fault(f"{b1.name} never answers", 0.60, lambda: b1.run("hang"), gone(b1)),
        Fault(f"{b1.name} healthy again", 0.75, lambda: b1.run("ok"), back(b1)),
    ]
    if redis is not None:
        faults += [Fault("Redis stopped", 0.30, redis.stop, lambda: _answers(proxy.port)),
                   Fault("Redis started", 0.40, redis.start, lambda: _table_answers(proxy))]
    if run == "app-cookie, SQLite":
        faults.append(Fault("proxy restarted", 0.85, proxy.restart, lambda: _answers(proxy.port),
                            excuses_errors=True))
    return sorted(faults, key=lambda f: f.at)


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/", headers={"Host": "shop.example"})
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def _table_answers(proxy: Proxy) -> bool:
    """No request placed without the table for a second."""
    try:
        before = proxy.metrics().get(("stickyguard_decisions_total", (("kind", "app-cookie"), ("reason", "unstored"))))
        time.sleep(1.0)
        return proxy.metrics().get(("stickyguard_decisions_total", (("kind", "app-cookie"),
                                                                    ("reason", "unstored")))) == before
    except OSError:
        return False


def watch(fault: Fault, t0: float, stop: threading.Event) -> None:
    while not stop.is_set():
        if fault.recovered():
            fault.recovered_after = time.monotonic() - fault.started
            return
        time.sleep(POLL)


@dataclasses.dataclass
class Outcome:
    row: list
    missed: list[str]


def soak(run: str, extra: list[str], work: Path, args: argparse.Namespace) -> Outcome:
    backends = [Backend(f"b{i}") for i in (1, 2, 3)]
    redis = paired.Redis(work) if "redis://" in " ".join(extra) else None
    if redis is not None:
        extra = [e.replace("REDIS_PORT", str(redis.port)) for e in extra]
    proxy = Proxy(work, backends, extra)
    samples: list[Sample] = []
    lock = threading.Lock()
    stop = threading.Event()
    watchers: list[threading.Thread] = []
    try:
        client(proxy.port, time.monotonic() + 1.0, 5, 10**6, 1, [], lock)  # warm-up
        rss_start = proxy.rss_mb()
        t0 = time.monotonic()
        until = t0 + args.seconds
        lengths = [args.long_session_requests if i % 2 else args.session_requests for i in range(args.clients)]
        threads = [threading.Thread(target=client, args=(proxy.port, until, lengths[i], i, args.clients, samples,
                                                         lock)) for i in range(args.clients)]
        for t in threads:
            t.start()
        faults = faults_for(run, backends, proxy, redis)
        for fault in faults:
            time.sleep(max(t0 + fault.at * args.seconds - time.monotonic(), 0))
            fault.started = time.monotonic()
            fault.act()
            fault.ended = time.monotonic()
            w = threading.Thread(target=watch, args=(fault, t0, stop))
            w.start()
            watchers.append(w)
        for t in threads:
            t.join()
        time.sleep(IDLE_TIMEOUT + 2.5)  # every session expires; the table's purge runs
        rss_end = proxy.rss_mb()
        entries = proxy.metrics().get(("stickyguard_session_table_entries", ()))
    finally:
        stop.set()
        for w in watchers:
            w.join(5)
        proxy.stop()
        for b in backends:
            b.stop()
        if redis is not None:
            redis.stop()
    return judge(run, samples, faults, violations(work / "access.log"), rss_start, rss_end, entries)


def violations(access_log: Path) -> int:
    """Sessions served by another backend than their last one, with no move recorded for it."""
    last: dict[str, str] = {}
    count = 0
    for line in access_log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["backend"] is None:
            continue  # the balancer's own answer
        previous = last.get(entry["client"])
        recorded = entry["decision"].split(":")[0] != "sticky" or "failures" in entry
        if previous is not None and previous != entry["backend"] and not recorded:
            count += 1
        last[entry["client"]] = entry["backend"]
    return count


def judge(run: str, samples: list[Sample], faults: list[Fault], violations: int, rss_start: float,
          rss_end: float, entries: float | None) -> Outcome:
    def excused(t: float) -> bool:
        return any(f.excuses_errors and f.started - 0.5 <= t <= (f.ended or f.started) + 0.5 for f in faults)

    errors = [s for s in samples if s.backend is None and not excused(s.started)]
    took = sorted(s.took for s in samples if s.backend is not None)
    p50 = statistics.median(took) * 1000 if took else 0.0
    p99 = took[int(len(took) * 0.99)] * 1000 if took else 0.0
    recover = "; ".join(f"{f.name} {f.recovered_after:.1f} s" if f.recovered_after is not None
                        else f"{f.name} NOT RECOVERED" for f in faults)
    missed = _missed(run, errors, violations, entries, rss_end - rss_start, faults)
    table = "-" if entries is None else f"{entries:.0f}"
    return Outcome([run, len(samples), len(errors), violations, f"{p50:.1f}", f"{p99:.1f}",
                    f"{rss_start:.0f} -> {rss_end:.0f}", table, recover], missed)


def _missed(run: str, errors: list[Sample], violations: int, entries: float | None, grew: float,
            faults: list[Fault]) -> list[str]:
    missed = []
    if errors:
        missed.append(f"{run}: {len(errors)} errors ({', '.join(sorted({e.error for e in errors}))})")
    if violations:
        missed.append(f"{run}: {violations} stickiness violations")
    if entries not in (None, 0.0):
        missed.append(f"{run}: {entries:.0f} sessions still in the memory table after they expired")
    if grew > MEMORY_SLACK_MB:
        missed.append(f"{run}: RSS grew {grew:.1f} MB")
    if any(f.recovered_after is None for f in faults):
        missed.append(f"{run}: a fault did not recover")
    return missed


def runs(work: Path) -> dict[str, list[str]]:
    return {
        "cookie": [],
        "app-cookie, memory": ["--affinity", "app-cookie"],
        "app-cookie, SQLite": ["--affinity", "app-cookie", "--store", f"sqlite:{work / 'sessions.sqlite'}"],
        "app-cookie, Redis": ["--affinity", "app-cookie", "--store", "redis://127.0.0.1:REDIS_PORT/0"],
        "ip": ["--affinity", "ip"],
        "route": ["--affinity", "route"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="load per run (default 30)")
    parser.add_argument("--clients", type=int, default=8, help="keep-alive clients (default 8)")
    parser.add_argument("--session-requests", type=int, default=20,
                        help="requests per session of half the clients, which start sessions often (default 20)")
    parser.add_argument("--long-session-requests", type=int, default=3000,
                        help="requests per session of the other half, whose sessions live through the faults "
                             "(default 3000)")
    parser.add_argument("--only", action="append", default=[], metavar="RUN")
    args = parser.parse_args()
    rows, missed, skipped = [], [], []
    base = Path(tempfile.mkdtemp(prefix="sg-soak-"))
    try:
        for i, (run, extra) in enumerate(runs(base).items()):
            if args.only and run not in args.only:
                continue
            if "REDIS_PORT" in " ".join(extra) and not shutil.which("redis-server"):
                skipped.append(f"{run}: skipped, no redis-server (Debian's redis-server package)")
                continue
            work = base / f"run{i}"
            work.mkdir()
            print(f"soak: {run} ({args.seconds:g} s, {args.clients} clients)", file=sys.stderr, flush=True)
            outcome = soak(run, extra, work, args)
            rows.append(outcome.row)
            missed += outcome.missed
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(tabulate(rows, headers=["run", "requests", "errors", "violations", "p50 ms", "p99 ms", "RSS MB",
                                  "table at end", "time to recover"], tablefmt="github"))
    for line in skipped:
        print(line)
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
