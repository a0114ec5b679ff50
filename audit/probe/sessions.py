"""Fresh and returning sessions against one URL, within bounds: a total request budget, a concurrency, a
polite rate and a timeout per request. A session starts with no cookie, keeps the cookies it is given
(as a browser would, by name) and comes back `returns` times. Sessions take the source addresses in turn,
so with several of them each address starts as many sessions. Ctrl-C stops the run, and what was
learned so far is kept."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stickyguard.audit.cookies import lifetime
from stickyguard.audit.cookies import parse_set_cookie
from stickyguard.audit.probe.client import Response
from stickyguard.audit.probe.client import fetch

MAX_REQUESTS = 2000  # a probe asks questions; it is not a load test


@dataclasses.dataclass(frozen=True)
class Plan:
    url: str
    sessions: int = 20
    returns: int = 3
    sources: tuple[str | None, ...] = (None,)
    concurrency: int = 4
    rate: float = 10.0  # requests per second, over all sessions
    timeout: float = 10.0
    user_agent: str = "stickyguard-probe"
    verify: bool = True

    @property
    def requests(self) -> int:
        return self.sessions * (1 + self.returns)

    def problems(self) -> list[str]:
        found = []
        if self.sessions < 1 or self.returns < 0:
            found.append("--sessions must be 1 or more and --returns 0 or more")
        if self.requests > MAX_REQUESTS:
            found.append(f"{self.requests} requests is over the probe's bound of {MAX_REQUESTS}")
        if not 1 <= self.concurrency <= 32:
            found.append("--concurrency must be 1 to 32")
        if not 0 < self.rate <= 200:
            found.append("--rate must be over 0 and at most 200 requests a second")
        return found


@dataclasses.dataclass(frozen=True)
class Visit:
    session: int
    step: int  # 0: the fresh request; 1..returns: coming back with the session's cookies
    source: str | None
    sent: tuple[tuple[str, str], ...]  # the cookies sent
    response: Response


class _Pace:
    """At most `rate` requests a second across threads."""

    def __init__(self, rate: float):
        self.gap, self.next, self.lock = 1.0 / rate, time.monotonic(), threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        with self.lock:
            now = time.monotonic()
            at = max(self.next, now)
            self.next = at + self.gap
        stop.wait(max(0.0, at - now))


def run(plan: Plan, progress: Callable[[int, int], None] | None = None, stop: threading.Event | None = None,
        interrupted: threading.Event | None = None) -> list[Visit]:
    """Every visit made, in the order sessions and steps were planned; fewer when stopped (`stop` set by the
    caller, or Ctrl-C, which also sets `interrupted`)."""
    stop = stop or threading.Event()
    pace, lock, done = _Pace(plan.rate), threading.Lock(), [0]
    results: dict[int, list[Visit]] = {}

    def session(number: int) -> None:
        source = plan.sources[number % len(plan.sources)]
        jar: dict[str, str] = {}
        visits = []
        for step in range(1 + plan.returns):
            if stop.is_set():
                break
            pace.wait(stop)
            if stop.is_set():
                break
            sent = tuple(jar.items())
            answer = fetch(plan.url, dict(jar), plan.user_agent, plan.timeout, source, plan.verify)
            visits.append(Visit(number, step, source, sent, answer))
            keep(jar, answer)
            with lock:
                done[0] += 1
                if progress:
                    progress(done[0], plan.requests)
        with lock:
            results[number] = visits

    pool = ThreadPoolExecutor(max_workers=plan.concurrency, thread_name_prefix="probe")
    try:
        for future in [pool.submit(session, n) for n in range(plan.sessions)]:
            future.result()
    except KeyboardInterrupt:
        stop.set()
        if interrupted is not None:
            interrupted.set()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return [v for n in sorted(results) for v in results[n]]


def keep(jar: dict[str, str], answer: Response) -> None:
    """The cookies a browser would keep from this response (by name; a deletion removes one)."""
    for line in answer.set_cookie_lines():
        parsed = parse_set_cookie(line)
        if parsed is None:
            continue
        name, value, attrs = parsed
        ends_in = lifetime(attrs, time.time())  # RFC 6265's reading of Max-Age and Expires
        if value == "" or (ends_in is not None and ends_in <= 0):
            jar.pop(name, None)
        else:
            jar[name] = value
