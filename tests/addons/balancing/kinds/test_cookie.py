import asyncio

import pytest

from stickyguard.addons.balancing import sealing  # noqa: E402
from stickyguard.addons.balancing.kinds.cookie import CookieAffinity  # noqa: E402
from tests.addons.balancing.kinds import SECRET
from tests.addons.balancing.kinds import pool


class TestCookie:
    def setup_method(self):
        self.pool = pool("a", "b", "c")
        self.aff = CookieAffinity(self.pool, sealing.Sealer([SECRET]))

    def test_new_then_sticky(self):
        first = self.aff.route(None)
        assert first.label == "new" and first.set_cookie
        token = self.aff.cookie_value(first)
        for _ in range(5):
            again = self.aff.route(token)
            assert (again.backend, again.label, again.set_cookie) == (first.backend, "sticky", False)

    @pytest.mark.parametrize("token,reason", [
        ("garbage", "rejected:malformed"),
        ("s1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "rejected:forged"),
    ])
    def test_bad_tokens_are_repinned_by_the_pool(self, token, reason):
        decision = self.aff.route(token)
        assert decision.label == reason and decision.set_cookie and decision.backend.available

    def test_a_foreign_key_token_is_rejected(self):
        foreign = sealing.Sealer([b"z" * 32]).seal("a")
        assert self.aff.route(foreign).label == "rejected:forged"

    def test_dead_backend_moves_and_counts(self):
        first = self.aff.route(None)
        token = self.aff.cookie_value(first)
        first.backend.up = False
        moved = self.aff.route(token)
        assert moved.label == "moved" and moved.backend is not first.backend
        assert first.backend.moves_out == 1 and moved.backend.moves_in == 1

    def test_draining_keeps_its_sessions(self):
        first = self.aff.route(None)
        token = self.aff.cookie_value(first)
        first.backend.draining = True
        assert self.aff.route(token).backend is first.backend


class _View:
    path, peer = "/", "10.0.0.5"

    def __init__(self, tls=False, proto=()):
        self.tls, self.proto = tls, list(proto)

    def header_all(self, name):
        return self.proto if name == "x-forwarded-proto" else []


def test_respond_issues_the_cookie_only_when_needed():
    aff = CookieAffinity(pool("a", "b"), sealing.Sealer([SECRET]), "lb", trusted_proxies=("10.0.0.0/8",))
    new = aff.route(None)
    (line,) = asyncio.run(aff.respond(_View(), None, new, new.backend))
    assert line.startswith("lb=s1.") and line.endswith("; Path=/; HttpOnly; SameSite=Lax")
    (line,) = asyncio.run(aff.respond(_View(proto=["https"]), None, new, new.backend))
    assert line.startswith("__Host-lb=s1.") and line.endswith("; Secure")   # a trusted TLS terminator
    sticky = aff.route(line.split(";")[0].split("=", 1)[1])
    assert asyncio.run(aff.respond(_View(), None, sticky, sticky.backend)) == []
    other = next(b for b in aff.pool.backends.values() if b is not sticky.backend)
    (line,) = asyncio.run(aff.respond(_View(), None, sticky, other))   # another backend answered
    assert aff.sealer.open(line.split(";")[0].split("=", 1)[1]).backend == other.name
