"""What tells backends apart (audit/probe/identity.py)."""

from stickyguard.audit.probe import identity
from stickyguard.audit.probe.client import Response
from stickyguard.audit.probe.sessions import Visit


def visit(n, headers, body=""):
    return Visit(n, 0, None, (), Response(200, tuple(headers), body, 0.01))


def test_a_header_that_names_the_server_wins(catalog):
    made = [visit(i, [("Date", f"t{i}"), ("X-Served-By", f"web-{i % 3}")]) for i in range(6)]
    signal = identity.find(made, catalog)
    assert signal.name == "header x-served-by" and signal.confidence == "high"


def test_a_decoded_affinity_cookie_is_next(catalog):
    cookies = ["BIGipServerpool=1677787402.36895.0000", "BIGipServerpool=1694564618.36895.0000"]
    made = [visit(i, [("Set-Cookie", cookies[i % 2] + "; path=/")]) for i in range(4)]
    signal = identity.find(made, catalog)
    assert signal.name == "cookie BIGipServerpool (decoded)" and signal.confidence == "medium"
    assert signal.of(made[0].response) != signal.of(made[1].response)


def test_a_fingerprint_is_low_confidence_and_nothing_is_said_plainly(catalog):
    made = [visit(i, [("Date", f"t{i}")], body=f"page-{i % 2}") for i in range(6)]
    signal = identity.find(made, catalog)
    assert signal.name == "body" and signal.confidence == "low"
    alike = [visit(i, [("Date", f"t{i}")], body="same") for i in range(6)]
    assert identity.find(alike, catalog) is None
