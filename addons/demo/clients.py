"""The demo's clients: shoppers that keep their cookies, fill a cart, and check what they get back.

A shopper opens the shop, adds items one request at a time and finally reads the cart. Every
answer names the backend that served it and the cart that backend holds for the session, so a
shopper notices each move to another backend and each cart that lost an item. `tally` turns the
shoppers' notes into the figures the demo prints.
"""

from __future__ import annotations

import http.client
import json
from collections import Counter
from dataclasses import dataclass
from dataclasses import field

from stickyguard.addons.demo.shop import ITEMS


@dataclass
class Move:
    round: int
    source: str
    target: str


@dataclass
class Shopper:
    index: int
    host: str
    port: int
    forwarded_for: str | None = None  # the address a trusted proxy in front of us saw
    steps: int = 6
    cookies: dict[str, str] = field(default_factory=dict)
    served_by: list[str] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    cart_errors: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    done_steps: int = 0
    _conn: http.client.HTTPConnection | None = None

    @property
    def finished(self) -> bool:
        return self.done_steps >= self.steps

    def step(self, round_no: int) -> None:
        """The next request: open the shop, add an item, or (last) read the cart."""
        n = self.done_steps
        self.done_steps += 1
        if n == 0:
            method, path, item = "GET", "/", None
        elif n == self.steps - 1:
            method, path, item = "GET", "/cart", None
        else:
            method, path, item = "POST", "/cart", ITEMS[(self.index + n) % len(ITEMS)]
        try:
            status, answer = self._request(method, path, item)
        except (OSError, http.client.HTTPException, ValueError) as e:
            self.lost.append(f"{method} {path}: {type(e).__name__}: {e}")
            self.close()  # a fresh connection for the next request
            return
        if status != 200 or not isinstance(answer, dict) or "backend" not in answer:
            self.lost.append(f"{method} {path}: status {status}")
            return
        self._check(round_no, answer, item)

    def _check(self, round_no: int, answer: dict, item: str | None) -> None:
        backend = answer["backend"]
        if self.served_by and self.served_by[-1] != backend:
            self.moves.append(Move(round_no, self.served_by[-1], backend))
            self.expected = []  # the new backend holds a new session; the old cart stayed behind
        self.served_by.append(backend)
        if item:
            self.expected.append(item)
        if answer.get("cart") != self.expected:
            self.cart_errors.append(f"{backend}: cart {answer.get('cart')} where {self.expected} was added")

    def _request(self, method: str, path: str, item: str | None) -> tuple[int, object]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        headers = {"Accept": "application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        body = None
        if item is not None:
            body = f"item={item}".encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self._conn.request(method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        data = response.read()
        for line in response.msg.get_all("Set-Cookie") or []:
            name, _, value = line.split(";", 1)[0].partition("=")
            if name.strip():
                self.cookies[name.strip()] = value.strip()
        if response.status != 200:
            return response.status, None
        return response.status, json.loads(data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class Tally:
    requests: int
    by_backend: dict[str, dict[str, int]]
    follow_ups: int            # requests after a session's first
    kept: int                  # ... served by the backend that served the one before
    failover_moves: list[Move]  # moves off a backend that was down at the time
    other_moves: list[Move]     # moves while the old backend was up (e.g. ip hashing returning to it)
    carts_intact: int
    sessions: int
    lost: list[str]

    @property
    def stickiness(self) -> float:
        """Share of follow-up requests that stayed, leaving out the moves a dead backend forced."""
        counted = self.follow_ups - len(self.failover_moves)
        return (self.kept / counted) if counted else 1.0


def tally(shoppers: list[Shopper], down: dict[int, set[str]]) -> Tally:
    """`down`: for each round, the backends that were dead during it."""
    by_backend: dict[str, dict[str, int]] = {}
    requests: Counter[str] = Counter()
    for s in shoppers:
        for name in s.served_by:
            requests[name] += 1
        for name in set(s.served_by):
            by_backend.setdefault(name, {"sessions": 0, "requests": 0})["sessions"] += 1
    for name, n in requests.items():
        by_backend[name]["requests"] = n
    moves = [m for s in shoppers for m in s.moves]
    failover = [m for m in moves if m.source in down.get(m.round, set())]
    other = [m for m in moves if m.source not in down.get(m.round, set())]
    follow_ups = sum(max(len(s.served_by) - 1, 0) for s in shoppers)
    return Tally(
        requests=sum(s.done_steps for s in shoppers),
        by_backend=dict(sorted(by_backend.items())),
        follow_ups=follow_ups,
        kept=follow_ups - len(moves),
        failover_moves=failover,
        other_moves=other,
        carts_intact=sum(1 for s in shoppers if not s.cart_errors and not s.lost),
        sessions=len(shoppers),
        lost=[f"shopper {s.index}: {x}" for s in shoppers for x in s.lost],
    )
