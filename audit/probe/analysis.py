"""From the visits to the figures: which backend answered each, how well returning sessions stayed, how
evenly fresh sessions spread, and which mechanism keeps them, each verdict with its evidence."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

from stickyguard.audit.probe.client import Response
from stickyguard.audit.probe.identity import Signal
from stickyguard.audit.probe.sessions import Visit


@dataclasses.dataclass(frozen=True)
class Spread:
    sessions_per_backend: dict[str, int]
    max_over_mean: float | None
    jain: float | None  # Jain's fairness index: 1 when every backend has as many sessions, 1/n when one has all


def spread(counts: dict[str, int]) -> Spread:
    values = list(counts.values())
    if not values or not sum(values):
        return Spread(dict(counts), None, None)
    mean = sum(values) / len(values)
    jain = sum(values) ** 2 / (len(values) * sum(v * v for v in values))
    return Spread(dict(sorted(counts.items())), max(values) / mean, jain)


@dataclasses.dataclass(frozen=True)
class Figures:
    backends: list[str | None]  # per visit, in order
    stickiness: float | None  # share of later returning requests answered by the session's home backend
    returning: int  # later returning requests whose backend is known
    moved_after_first: int  # sessions whose first return went elsewhere than their first request
    spread: Spread  # sessions per home backend
    by_source: dict[str, Counter]  # source -> backends of its fresh sessions


def figures(visits: list[Visit], signal: Signal | None) -> Figures:
    """A session's home is the backend of its first return, once it holds the cookies it was given (a
    balancer that hashes a cookie the application sets places the first request before the cookie exists);
    the later returns are measured against it. With no return, the first request's backend is the home."""
    of: Callable[[Response], str | None] = signal.of if signal else (lambda r: None)
    backends = [of(v.response) if v.response.status is not None else None for v in visits]
    by_session: dict[int, dict[int, str | None]] = {}
    by_source: dict[str, Counter] = {}
    for visit, backend in zip(visits, backends, strict=True):
        by_session.setdefault(visit.session, {})[visit.step] = backend
        if visit.step == 0 and backend is not None:
            by_source.setdefault(visit.source or "default", Counter())[backend] += 1
    homes: Counter = Counter()
    stayed = returning = moved = 0
    for steps in by_session.values():
        home = steps.get(1, steps.get(0))
        if home is None:
            continue
        homes[home] += 1
        moved += steps.get(0) is not None and 1 in steps and steps[0] != steps[1]
        later = [b for step, b in steps.items() if step >= 2 and b is not None]
        returning += len(later)
        stayed += sum(b == home for b in later)
    return Figures(backends, stayed / returning if returning else None, returning, moved, spread(dict(homes)),
                   by_source)


@dataclasses.dataclass(frozen=True)
class Verdict:
    mechanism: str  # cookie, application-cookie, route, source-ip, none, unknown
    confidence: str
    evidence: list[str]
    cookie: str | None = None  # the cookie that carries the affinity, where one does
    vendor: str | None = None


STICKY = 0.9  # returning requests that stay, for a session to count as sticky


def source_ip(figs: Figures) -> Verdict | None:
    """Every source's fresh sessions on one backend, and the sources not all on the same one."""
    sources = {s: c for s, c in figs.by_source.items() if sum(c.values()) >= 2}
    if len(sources) < 2 or any(len(c) != 1 for c in sources.values()):
        return None
    landed = {s: next(iter(c)) for s, c in sources.items()}
    if len(set(landed.values())) < 2:
        return None
    evidence = [f"fresh sessions from {s} all went to {b} ({sum(sources[s].values())} sessions)"
                for s, b in sorted(landed.items())]
    return Verdict("source-ip", "high" if len(sources) >= 3 else "medium", evidence)


Send = Callable[[dict[str, str], str | None], Response]  # (cookies, source) -> the answer to one request
DROP_TRIES = 3  # requests per session without one cookie: a round-robin balancer moves most of them


def cookie_carrying_affinity(visits: list[Visit], figs: Figures, signal: Signal, send: Send,
                             sessions: int = 3) -> tuple[str | None, list[str]]:
    """The cookie whose absence moves a returning session off its backend, found by asking again without
    each cookie in turn (DROP_TRIES requests each, on `sessions` sticky sessions); None when dropping
    no single cookie moves any session."""
    jars: dict[int, tuple[str | None, dict[str, str], str]] = {}
    for visit, backend in zip(visits, figs.backends, strict=True):
        if visit.step > 0 and backend is not None and visit.sent:
            jars[visit.session] = (visit.source, dict(visit.sent), backend)
    evidence: list[str] = []
    moved: Counter = Counter()
    for source, jar, home in list(jars.values())[:sessions]:
        for name in jar:
            without = {k: v for k, v in jar.items() if k != name}
            landed = [signal.of(send(without, source)) for _ in range(DROP_TRIES)]
            away = sum(b is not None and b != home for b in landed)
            if away:
                moved[name] += 1
                evidence.append(f"without {name}, a session on {home} was answered by "
                                f"{', '.join(sorted({b for b in landed if b}))} ({away} of {DROP_TRIES})")
    if not moved:
        return None, evidence
    return moved.most_common(1)[0][0], evidence


def name_mechanism(visits: list[Visit], figs: Figures, signal: Signal | None, send: Send,
                   classify: Callable[[str, str], tuple[str | None, bool, bool]]) -> Verdict:
    """The mechanism, with its evidence. `classify(name, value)` -> (vendor display name or None, inserted by a
    balancer product, carries a route id) for the affinity cookie found."""
    if signal is None:
        return Verdict("unknown", "low", ["nothing in the answers tells the backends apart"])
    by_source = source_ip(figs)
    if by_source:
        return by_source
    if figs.stickiness is None:
        return Verdict("unknown", "low", ["no returning request was answered by a backend the probe could name"])
    fresh = figs.spread.sessions_per_backend
    if figs.stickiness < STICKY:
        evidence = [f"{figs.stickiness:.0%} of {figs.returning} returning requests stayed on their backend"]
        if len(fresh) > 1:
            return Verdict("none", "high" if figs.stickiness < 0.6 else "medium", evidence)
        return Verdict("unknown", "low", evidence + ["fresh sessions all went to one backend"])
    stays = f"{figs.stickiness:.0%} of {figs.returning} returning requests stayed on their backend"
    if figs.moved_after_first:
        stays += (f"; {figs.moved_after_first} sessions moved after their first request, once they held the "
                  "cookie (the cookie decides, not the first placement)")
    cookie, evidence = cookie_carrying_affinity(visits, figs, signal, send)
    if cookie is None:
        if len(fresh) <= 1:
            return Verdict("unknown", "low", [stays, "every fresh session went to one backend: one backend, or "
                                              "affinity on the client's address (give several --source-address)"])
        return Verdict("unknown", "low", [stays, "no single cookie's absence moved a session", *evidence])
    value = next((dict(v.sent)[cookie] for v in visits if cookie in dict(v.sent)), "")
    vendor, inserted, route = classify(cookie, value)
    kind = "route" if route else "cookie" if inserted else "application-cookie"
    named = f" ({vendor})" if vendor else ""
    what = {"route": f"the route id in {cookie}{named}", "cookie": f"{cookie}, set by the balancer{named}",
            "application-cookie": f"the application's own cookie {cookie}{named}, learned by the balancer"}[kind]
    return Verdict(kind, "high" if vendor else "medium", [stays, f"affinity rides on {what}", *evidence],
                   cookie=cookie, vendor=vendor)
