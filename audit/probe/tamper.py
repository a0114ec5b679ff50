"""Whether a client can pick its own backend: a returning session sends its affinity cookie dropped,
truncated, with one character changed, and with the value another session was given on another backend.
A site that obeys that last one lets any client steer itself to a backend of its choice: attack surface
for hammering or targeting one server, as reported against Traefik's and oxy's plain cookies (oxy #107)
and as Envoy's stateful-session documentation warns."""

from __future__ import annotations

import dataclasses

from stickyguard.audit.probe.analysis import Figures
from stickyguard.audit.probe.analysis import Send
from stickyguard.audit.probe.identity import Signal
from stickyguard.audit.probe.sessions import Visit

TRIES = 3  # requests per variant: a round-robin placement lands on a chosen backend thrice by luck rarely


@dataclasses.dataclass(frozen=True)
class Outcome:
    variant: str  # dropped, truncated, bit-flipped, rewritten to name another backend
    home: str  # the session's backend
    landed: list[str | None]
    target: str | None = None  # for a rewritten value: the backend it now names

    @property
    def steered(self) -> bool:
        return self.target is not None and all(b == self.target for b in self.landed)

    def describe(self) -> str:
        where = ", ".join(b or "?" for b in self.landed)
        aim = f" (it names {self.target})" if self.target else ""
        return f"{self.variant}{aim}: answered by {where}"


def run(visits: list[Visit], figs: Figures, signal: Signal, cookie: str, send: Send) -> list[Outcome]:
    """The variants on one sticky session; the rewrite only where the value's format names a backend."""
    homes: dict[str, tuple[str | None, dict[str, str]]] = {}
    values: dict[str, set[str]] = {}
    for visit, backend in zip(visits, figs.backends, strict=True):
        jar = dict(visit.sent)
        if visit.step > 0 and backend is not None and cookie in jar:
            homes.setdefault(backend, (visit.source, jar))
            values.setdefault(backend, set()).add(jar[cookie])
    if not homes:
        return []
    home, (source, jar) = next(iter(homes.items()))
    value = jar[cookie]
    variants: list[tuple[str, dict[str, str], str | None]] = [
        ("dropped", {k: v for k, v in jar.items() if k != cookie}, None),
        ("truncated", {**jar, cookie: value[: max(1, len(value) // 2)]}, None),
        ("bit-flipped", {**jar, cookie: _flip(value)}, None),
    ]
    target = next((b for b in homes if b != home), None)
    rewritten = rewrite_to(value, values, home, target) if target is not None else None
    if target is not None and rewritten is not None:
        variants.append(("rewritten to name another backend", {**jar, cookie: rewritten}, target))
    out = []
    for variant, cookies, target in variants:
        landed = [signal.of(send(cookies, source)) for _ in range(TRIES)]
        out.append(Outcome(variant, home, landed, target))
    return out


def rewrite_to(value: str, values: dict[str, set[str]], home: str, target: str) -> str | None:
    """`value` (a session's on `home`) made to name `target` instead: the whole value where the value is the
    backend's name, else the part every value of a backend shares before a `~` or after a `.` (HAProxy's
    `cookie ... prefix`, a jvmRoute suffix), when that part tells the backends apart; None when the format
    names no backend a client could write."""
    if names_backends(values):
        return next(iter(values[target]))
    for prefix in (True, False):
        parts = {b: {_part(v, prefix) for v in vs} for b, vs in values.items()}
        named = {b: next(iter(p)) for b, p in parts.items() if len(p) == 1}
        if len(named) == len(parts) > 1 and "" not in named.values() and len(set(named.values())) == len(named):
            mine, theirs = named[home], named[target]
            return theirs + value[len(mine):] if prefix else value[: -len(mine)] + theirs
    return None


def _part(value: str, prefix: bool) -> str:
    """The server part of a value: before `~` (HAProxy's prefix), or after the last `.` (a route); "" if none."""
    if prefix:
        return value.partition("~")[0] if "~" in value else ""
    return value.rpartition(".")[2] if "." in value else ""


def names_backends(values: dict[str, set[str]]) -> bool:
    """The value is a backend's name a client could write: one value per backend, different across
    backends (HAProxy's inserted server cookie). A value that differs per session (a sealed token) names
    none: sending another session's token is replaying a session, not choosing a server."""
    return len(values) > 1 and all(len(v) == 1 for v in values.values()) \
        and len({next(iter(v)) for v in values.values()}) == len(values)


def _flip(value: str) -> str:
    """One character changed, near the middle, to another of the same kind."""
    if not value:
        return "x"
    i = len(value) // 2
    ch = value[i]
    if ch.isdigit():
        swapped = "1" if ch == "0" else "0"
    elif ch.isalpha():
        swapped = "b" if ch == "a" else "a"
    else:
        swapped = "-" if ch != "-" else "_"
    return value[:i] + swapped + value[i + 1:]
