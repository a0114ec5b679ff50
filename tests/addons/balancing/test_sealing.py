import base64
import os
import stat

import pytest

from stickyguard.addons.balancing import sealing

A = b"a" * 32
B = b"b" * 32


class Clock:
    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def sealer(*keys, clock=None, idle=1800, absolute=43200):
    return sealing.Sealer(list(keys) or [A], idle, absolute, clock or Clock())


def test_round_trip_names_the_backend_only_inside():
    s = sealer()
    token = s.seal("app2")
    assert token.startswith("s1.") and "app2" not in token
    opened = s.open(token)
    assert (opened.backend, opened.key_index) == ("app2", 0)


def test_same_backend_gives_different_tokens():
    s = sealer()
    assert s.seal("app1") != s.seal("app1")  # a random nonce each time: tokens do not identify a backend


def _flip(token: str, at: int) -> str:
    # Change a character in the middle of the base64 text (the last one may only carry padding bits).
    return token[:at] + ("x" if token[at] != "x" else "y") + token[at + 1:]


@pytest.mark.parametrize("mutate", [
    lambda t: _flip(t, 10),                                  # key id or nonce
    lambda t: _flip(t, len(t) // 2),                         # ciphertext
    lambda t: _flip(t, len(t) - 3),                          # authentication tag
    lambda t: t + "AAAA",
])
def test_any_edit_is_forged(mutate):
    s = sealer()
    with pytest.raises(sealing.InvalidToken) as e:
        s.open(mutate(s.seal("app1")))
    assert e.value.reason in ("forged", "malformed")


def test_a_client_cannot_mint_a_token_for_another_backend():
    s = sealer()
    other = sealer(B)  # an attacker's own key
    with pytest.raises(sealing.InvalidToken, match="forged"):
        s.open(other.seal("app3"))


@pytest.mark.parametrize("token", ["", "s1.", "s1.!!!!", "app1", "s1." + "A" * 300, "s2.abc"])
def test_malformed(token):
    with pytest.raises(sealing.InvalidToken, match="malformed"):
        sealer().open(token)


def test_key_rotation_keeps_old_sessions():
    clock = Clock()
    old = sealer(A, clock=clock)
    token = old.seal("app1")
    rotated = sealer(B, A, clock=clock)
    opened = rotated.open(token)
    assert (opened.backend, opened.key_index) == ("app1", 1)
    assert opened.needs_refresh(clock(), 1800)  # re-sealed with the new key on the next response
    assert rotated.open(rotated.seal("app1")).key_index == 0
    with pytest.raises(sealing.InvalidToken, match="forged"):
        sealer(B, clock=clock).open(token)  # once the old key is dropped, its tokens stop working


def test_idle_and_absolute_timeouts():
    clock = Clock()
    s = sealer(clock=clock, idle=100, absolute=1000)
    token = s.seal("app1")
    clock.now += 101
    with pytest.raises(sealing.InvalidToken, match="expired-idle"):
        s.open(token)
    # Refreshing keeps the issue time, so the absolute limit still ends the session.
    clock.now = 1_700_000_000.0
    t = s.seal("app1")
    for _ in range(11):
        clock.now += 90
        t = s.seal("app1", issued_at=s.open(t).issued_at)
    clock.now += 20  # 1010 s after the first seal, 20 s after the last refresh
    with pytest.raises(sealing.InvalidToken, match="expired-absolute"):
        s.open(t)


def test_needs_refresh_after_a_quarter_of_the_idle_budget():
    clock = Clock()
    s = sealer(clock=clock, idle=400)
    opened = s.open(s.seal("app1"))
    assert not opened.needs_refresh(clock(), 400)
    assert opened.needs_refresh(clock() + 100, 400)


@pytest.mark.parametrize("args,message", [
    (([],), "at least one secret"),
    (([b"short"],), "secret 1 is shorter than 16 bytes"),
    (([A], 0, 10), "timeouts must be positive"),
])
def test_bad_configuration(args, message):
    with pytest.raises(ValueError, match=message):
        sealing.Sealer(*args)


def test_backend_id_length():
    with pytest.raises(ValueError, match="backend id must be 1-64 bytes"):
        sealer().seal("x" * 65)


def test_parse_secrets():
    assert sealing.parse_secrets(" new-secret , old-secret\n\nolder ") == [b"new-secret", b"old-secret", b"older"]


def test_secret_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "state" / "secret"
    first = sealing.load_or_create_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sealing.load_or_create_secret(path) == first
    assert len(first[0]) >= 32


def test_empty_secret_file(tmp_path):
    path = tmp_path / "secret"
    path.write_text("\n")
    with pytest.raises(ValueError, match="holds no secret"):
        sealing.load_or_create_secret(path)


def test_token_passes_the_audit(ruleset, catalog):
    """What the balancer sets reveals nothing: no vendor format, no leak, no decoded evidence."""
    from stickyguard.audit.engine import Audit
    from stickyguard.audit.records import Exchange

    token = sealer().seal("app-2.internal")
    audit = Audit(ruleset, catalog)
    audit.add(Exchange("https://shop.example/", "GET", 200, [],
                       [("Set-Cookie", f"__Host-sg_affinity={token}; Path=/; Secure; HttpOnly; SameSite=Lax")],
                       None, None, "t", "p"))
    report = audit.report([], [], "t", {"name": "stickyguard", "version": "0"})
    assert report.findings == []
    assert report.cookies[0]["decoded"] is None
    assert b"app-2" not in base64.urlsafe_b64decode(token[3:] + "==")


def test_the_audit_knows_a_sealed_token_as_stickyguard_s_own_and_decodes_nothing(catalog):
    from stickyguard.audit.catalog import classify_and_decode

    token = sealer().seal("app1")
    found = classify_and_decode(catalog, "sg_affinity", token)
    assert (found["vendor"], found["affinity"], found["decoded"]) == ("stickyguard", True, None)


def test_a_secret_file_others_can_write_is_refused(tmp_path):
    path = tmp_path / "secret"
    path.write_text("0123456789abcdef0123456789abcdef\n")
    path.chmod(0o666)
    with pytest.raises(ValueError, match="writable by other users"):
        sealing.load_or_create_secret(path)
    path.chmod(0o600)
    assert sealing.load_or_create_secret(path)


def test_a_token_opened_before_still_expires_and_a_forged_one_is_never_kept():
    clock = Clock()
    s = sealer(clock=clock, idle=60, absolute=600)
    token = s.seal("app1")
    assert s.open(token).backend == "app1"  # authenticated once, then kept
    clock.now += 61
    with pytest.raises(sealing.InvalidToken, match="expired-idle"):
        s.open(token)
    fresh = s.seal("app1", issued_at=int(clock.now) - 599)
    assert s.open(fresh).backend == "app1"
    clock.now += 2
    with pytest.raises(sealing.InvalidToken, match="expired-absolute"):
        s.open(fresh)
    forged = _flip(s.seal("app1"), 10)
    for _ in range(2):
        with pytest.raises(sealing.InvalidToken):
            s.open(forged)


def test_the_kept_tokens_are_bounded(monkeypatch):
    monkeypatch.setattr(sealing, "OPENED_CACHE", 3)
    s = sealer()
    tokens = [s.seal(f"app{i}") for i in range(5)]
    assert [s.open(t).backend for t in tokens] == [f"app{i}" for i in range(5)]
    assert len(s._opened) == 3 and tokens[0] not in s._opened
