import random

import pytest

from stickyguard.addons.balancing import affinity
from stickyguard.addons.balancing import backends


def test_decision_labels_and_which_reasons_place_a_session():
    p = backends.Pool([backends.parse_backend_spec("a=http://127.0.0.1:1")], rng=random.Random(1))
    rejected = affinity.placed(p, affinity.Reason.REJECTED, detail="forged")
    assert rejected.label == "rejected:forged" and rejected.set_cookie
    assert affinity.Decision(rejected.backend, affinity.Reason.STICKY).label == "sticky"
    assert [r.value for r in affinity.Reason if not r.places_a_session] == ["sticky"]


@pytest.mark.parametrize("peer,xff,trusted,client", [
    ("198.51.100.9", ["203.0.113.1"], ["10.0.0.0/8"], "198.51.100.9"),      # untrusted peer: XFF ignored
    ("10.0.0.5", ["203.0.113.1, 10.0.0.7"], ["10.0.0.0/8"], "203.0.113.1"),  # right to left past trusted hops
    ("10.0.0.5", ["spoofed, 203.0.113.1"], ["10.0.0.0/8"], "203.0.113.1"),
    ("10.0.0.5", ["not-an-ip"], ["10.0.0.0/8"], "10.0.0.5"),
    ("10.0.0.5", [], ["10.0.0.0/8"], "10.0.0.5"),
])
def test_client_address(peer, xff, trusted, client):
    assert affinity.client_address(peer, xff, trusted) == client


@pytest.mark.parametrize("peer,proto,trusted,https", [
    ("10.0.0.5", ["https"], ["10.0.0.0/8"], True),
    ("10.0.0.5", ["http, https"], ["10.0.0.0/8"], True),     # the last hop's word counts
    ("10.0.0.5", ["https, http"], ["10.0.0.0/8"], False),
    ("198.51.100.9", ["https"], ["10.0.0.0/8"], False),      # anyone can send the header; only a trusted peer counts
    ("10.0.0.5", [], ["10.0.0.0/8"], False),
    ("not-an-ip", ["https"], ["10.0.0.0/8"], False),
])
def test_forwarded_https(peer, proto, trusted, https):
    assert affinity.forwarded_https(peer, proto, trusted) is https
