"""`stickyguard demo`: the whole toolkit at work on loopback, in well under a minute.

Three shop backends (addons/demo/shop.py) run as their own processes; the balancer and the
recorder run in this process on one mitmproxy; shoppers (addons/demo/clients.py) come in three
waves. Before round 3 one backend is killed with SIGKILL, before round 6 it is started again;
the shoppers pause between rounds, so a backend dies between requests, never during one
(no balancer can save a request that was inside a backend when it died without retrying it).
Then the recording and a shipped capture of other balancers' cookies are audited.

Everything started here is stopped here, by PID, on the way out: also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from stickyguard.addons import master as proxy
from stickyguard.addons.balancing.kinds import KINDS
from stickyguard.addons.demo import capture as demo_capture
from stickyguard.addons.demo.clients import Shopper
from stickyguard.addons.demo.clients import Tally
from stickyguard.addons.demo.clients import tally

BACKENDS = ("app1", "app2", "app3")
VICTIM = "app2"
KILL_BEFORE_ROUND = 2
RESTORE_BEFORE_ROUND = 5
WAVES = 3
STEPS = 6           # GET /, four items added, GET /cart
WAVE_EVERY = 3      # rounds between waves
ROUND_PAUSE = 0.15  # seconds: slow enough to watch, short enough to stay well under a minute


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stickyguard demo", description=__doc__.splitlines()[0])
    parser.add_argument("--affinity", default="cookie", choices=list(KINDS),
                        help="how sessions stick (default: cookie, the balancer's sealed cookie)")
    parser.add_argument("--sessions", type=int, default=36, help="client sessions, in three waves (default: 36)")
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="where the balancer listens (default: a free port on 127.0.0.1)")
    parser.add_argument("--report", default="demo-report.html", metavar="FILE",
                        help="the HTML compliance report (default: demo-report.html)")
    parser.add_argument("--recording", default="demo-recording.jsonl", metavar="FILE",
                        help="the recorder's output, rewritten each run (default: demo-recording.jsonl)")
    parser.add_argument("--keep-running", action="store_true",
                        help="leave the balancer and backends up afterwards, for a browser; Ctrl-C stops")
    return parser


class ShopProcesses:
    """The backend processes, each in its own session so a terminal's Ctrl-C reaches only us."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str) -> None:
        port = self.ports.get(name, 0)
        proc = subprocess.Popen(
            [sys.executable, "-m", "stickyguard.addons.demo.shop", "--name", name, "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        self.procs[name] = proc
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("listening on "):
            proc.wait(timeout=5)
            raise RuntimeError(f"backend {name} did not start: {(proc.stderr.read() if proc.stderr else '').strip()}")
        self.ports[name] = int(line.rsplit(":", 1)[1])

    def kill(self, name: str) -> int:
        proc = self.procs.pop(name)
        proc.kill()
        _reap(proc)
        return proc.pid

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
            _reap(proc)
        self.procs.clear()


def _reap(proc: subprocess.Popen) -> None:
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Progress:
    """One line on stderr when it is a terminal; nothing otherwise (the events still print)."""

    def __init__(self, total: int):
        self.total = total
        self.on = sys.stderr.isatty()

    def show(self, done: int, note: str = "") -> None:
        if self.on:
            share = done / self.total if self.total else 1.0
            sys.stderr.write(f"\r  [{'#' * int(share * 30):<30}] {done:4d}/{self.total} requests {note:<28}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.on:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()


def say(text: str) -> None:
    print(text, flush=True)


async def run(args: argparse.Namespace) -> int:
    from mitmproxy import exceptions

    from stickyguard.addons.balancer import Balancer
    from stickyguard.addons.recorder import Recorder

    host, port = proxy.listen_address(args.listen) if args.listen else ("127.0.0.1", 0)
    port = port or free_port(host)
    shops = ShopProcesses()
    master = None
    proxy_task = None
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="shopper")
    work = tempfile.TemporaryDirectory(prefix="stickyguard-demo-")
    finished = False
    try:
        started = time.monotonic()
        for name in BACKENDS:
            shops.start(name)
        say(f"stickyguard demo: {args.affinity} affinity; backends " +
            ", ".join(f"{n} on 127.0.0.1:{shops.ports[n]}" for n in BACKENDS))
        Path(args.recording).unlink(missing_ok=True)
        balancer = Balancer()
        master = proxy.proxy_master(host, port, proxy.PLACEHOLDER_MODE, balancer, Recorder())
        try:
            master.options.update(termlog_verbosity="error", confdir=work.name, **demo_settings(args, shops.ports))
        except exceptions.OptionsError as e:
            raise RuntimeError(str(e)) from None
        loop = asyncio.get_running_loop()
        proxy.quiet_cancellations(loop)
        proxy_task = loop.create_task(master.run())
        await wait_listening(host, port, proxy_task)
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
        say(f"balancer and recorder on {url} (recording to {args.recording})")

        shoppers, down = await drive(args, host, port, shops, balancer, pool)
        result = tally(shoppers, down)
        say("")
        print_result(result, balancer, time.monotonic() - started)
        if not args.keep_running:
            await stop_proxy(master, proxy_task)
            master = None
        say("")
        audit_everything(args)
        if args.keep_running:
            finished = True
            say(f"\nThe balancer is still up: open {url} in a browser (each page names its backend; reload "
                "and add items to see the session stick). Ctrl-C stops everything.")
            await asyncio.Event().wait()
        return 0 if not result.lost else 1
    except asyncio.CancelledError:
        if finished:  # --keep-running ends with Ctrl-C
            say("\nstickyguard demo: stopping everything it started")
            return 0
        say("\nstickyguard demo: interrupted; stopping everything it started")
        return 130
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if master is not None and proxy_task is not None:
            await stop_proxy(master, proxy_task)
        shops.stop_all()
        work.cleanup()


def demo_settings(args: argparse.Namespace, ports: dict[str, int]) -> dict:
    """The balancer and recorder options the demo runs with; the kind says what it needs beyond them."""
    demo = KINDS[args.affinity].demo
    settings = {
        "connection_strategy": "lazy",
        "keep_host_header": True,
        "balance_backends": [f"{n}=http://127.0.0.1:{ports[n]}" + (f",route={n}" if demo.routes else "")
                             for n in BACKENDS],
        "balance_affinity": args.affinity,
        "balance_secret": secrets.token_urlsafe(32),  # generated per run; the demo's cookies die with it
        "balance_health": "http:/health,interval=0.5,timeout=0.5,rise=2,fall=2",
        "record_file": args.recording,
    }
    settings.update(demo.options)
    return settings


async def wait_listening(host: str, port: int, proxy_task: asyncio.Task, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proxy_task.done():
            proxy_task.result()
            raise RuntimeError("the proxy stopped before it listened")
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the proxy did not listen on {host}:{port} within {seconds:.0f} s")


async def stop_proxy(master, proxy_task: asyncio.Task) -> None:
    master.shutdown()
    try:
        await asyncio.wait_for(asyncio.shield(proxy_task), 10)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        proxy_task.cancel()


async def drive(args, host: str, port: int, shops: ShopProcesses, balancer,
                pool: concurrent.futures.Executor) -> tuple[list[Shopper], dict[int, set[str]]]:
    """Rounds of requests: every active shopper makes its next request, in parallel; between
    rounds the victim is killed or restored. Returns the shoppers and who was down in each round."""
    loop = asyncio.get_running_loop()
    per_wave = max(1, args.sessions // WAVES)
    forwarded = KINDS[args.affinity].demo.forwarded_for
    shoppers = [
        Shopper(i, host, port, forwarded_for=f"198.51.100.{i % 250 + 1}" if forwarded else None, steps=STEPS)
        for i in range(per_wave * WAVES)
    ]
    rounds = WAVE_EVERY * (WAVES - 1) + STEPS
    progress = Progress(len(shoppers) * STEPS)
    down: dict[int, set[str]] = {}
    dead: set[str] = set()
    done = 0
    for r in range(rounds):
        if r == KILL_BEFORE_ROUND:
            progress.clear()
            pid = shops.kill(VICTIM)
            dead.add(VICTIM)
            say(f"  round {r + 1}/{rounds}: killed {VICTIM} (SIGKILL to pid {pid}) with sessions and carts on it")
        if r == RESTORE_BEFORE_ROUND:
            progress.clear()
            shops.start(VICTIM)
            dead.discard(VICTIM)
            back_after = await wait_healthy(balancer, VICTIM)
            say(f"  round {r + 1}/{rounds}: restarted {VICTIM}; the health check saw it up after {back_after:.1f} s")
        down[r] = set(dead)
        wave_count = min(r // WAVE_EVERY + 1, WAVES)
        active = [s for s in shoppers[: wave_count * per_wave] if not s.finished]
        if r % WAVE_EVERY == 0 and r // WAVE_EVERY < WAVES:
            progress.clear()
            say(f"  round {r + 1}/{rounds}: wave {r // WAVE_EVERY + 1} of {per_wave} new sessions arrives")
        await asyncio.gather(*(loop.run_in_executor(pool, s.step, r) for s in active))
        done += len(active)
        progress.show(done, f"round {r + 1}/{rounds}" + (f", {VICTIM} dead" if dead else ""))
        await asyncio.sleep(ROUND_PAUSE)
    progress.clear()
    for s in shoppers:
        s.close()
    return shoppers, down


async def wait_healthy(balancer, name: str, seconds: float = 15) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if balancer.pool is not None and balancer.pool.backends[name].up:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the balancer did not see {name} healthy again within {seconds:.0f} s")


def print_result(result: Tally, balancer, seconds: float) -> None:
    from tabulate import tabulate

    rows = []
    for name in BACKENDS:
        b = result.by_backend.get(name, {"sessions": 0, "requests": 0})
        state = balancer.pool.backends[name]
        note = "killed, then back" if name == VICTIM else "up"
        rows.append([name, b["sessions"], b["requests"], note + (", draining" if state.draining else "")])
    say(tabulate(rows, headers=["backend", "sessions served", "requests", "during the run"], tablefmt="simple"))
    say("")
    field("requests", f"{result.requests} in {seconds:.1f} s, {result.sessions} sessions")
    field("stickiness", f"{result.stickiness:.1%}: {result.kept} of {result.follow_ups - len(result.failover_moves)} "
          "follow-up requests reached their session's backend (the moves a dead backend forced are left out)")
    if result.failover_moves:
        moved = ", ".join(sorted({m.source for m in result.failover_moves}))
        field("failover", f"{len(result.failover_moves)} sessions moved off {moved} when it died; each began a new "
              "cart on its new backend (its old cart was in the dead process's memory)")
    else:
        field("failover", f"no session was on {VICTIM} when it died, by chance; new sessions the balancer still "
              "sent there went elsewhere (its failover count below)")
    if result.other_moves:
        n = len(result.other_moves)
        field("other moves", f"{n} session{'s' if n != 1 else ''} changed backend with no failover behind it")
    spread = balancer.pool.spread()
    field("spread", f"sessions per backend max/mean {spread['max_mean']:.2f} (ip affinity bounds it at 1.25), "
          f"Jain's fairness {spread['jain']:.3f}")
    field("carts intact", f"{result.carts_intact} of {result.sessions} sessions (every answer held exactly the "
          "items the session had added on that backend)")
    field("lost requests", str(len(result.lost)))
    for line in result.lost[:10]:
        say(f"  {line}")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(balancer.counts.items()))
    field("balancer", f"its own routing counts: {counts}")


def field(label: str, text: str) -> None:
    """`label:` and the text, wrapped under itself at 100 columns."""
    say(textwrap.fill(text, width=100, initial_indent=f"{label + ':':<15}", subsequent_indent=" " * 15))


def audit_everything(args: argparse.Namespace) -> None:
    from stickyguard.audit import api

    auditor = api.new_audit(*api.load_rules())
    inputs, errors = api.read_inputs(auditor, [args.recording, str(demo_capture.PATH)])
    report = api.report(auditor, inputs, errors)
    say(textwrap.fill(f"Audit of {args.recording} (this run) and {demo_capture.PATH.name} (other balancers' "
                      "cookies, made by stickyguard's encoders):", width=100))
    say("")
    sys.stdout.write(api.render_overview(report))
    Path(args.report).write_text(api.FORMATS["html"].render(report), encoding="utf-8")
    say("")
    say(f"The full compliance report: {Path(args.report).resolve()}")
    say(f"The same from the command line: stickyguard audit {args.recording} {demo_capture.PATH}")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_options(args)
    except ValueError as e:
        print(f"stickyguard demo: error: {e}", file=sys.stderr)
        return 2
    return asyncio.run(_main_task(args))


def check_options(args: argparse.Namespace) -> None:
    """Everything a user can get wrong, before anything starts."""
    if not 3 <= args.sessions <= 750:
        raise ValueError("--sessions must be 3-750")
    if args.listen:
        host, port = proxy.listen_address(args.listen)
        try:
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
                s.bind((host, port))
        except OSError as e:
            raise ValueError(f"--listen: cannot listen on {args.listen}: {e.strerror or e}") from None
    for option, path in (("--report", args.report), ("--recording", args.recording)):
        folder = Path(path).expanduser().resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValueError(f"{option}: cannot write {path}: {folder} is not a writable folder")


async def _main_task(args: argparse.Namespace) -> int:
    """Run the demo as a task that SIGINT and SIGTERM cancel, so `finally` stops everything."""
    task = asyncio.current_task()
    assert task is not None  # run() is only awaited inside asyncio.run
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await run(args)
    except (RuntimeError, OSError) as e:
        print(f"stickyguard demo: error: {e}", file=sys.stderr)
        return 1
