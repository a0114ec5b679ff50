"""The probe's figures and verdicts from visits made up here (the network is tested in tests/e2e)."""

import pytest

from stickyguard.audit.probe import analysis
from stickyguard.audit.probe.client import Response
from stickyguard.audit.probe.identity import Signal
from stickyguard.audit.probe.sessions import Visit


def answer(backend):
    return Response(200, (("X-Backend", backend),), "", 0.01)


SIGNAL = Signal("header x-backend", "high", lambda r: r.header("x-backend"))


def visits(plan):
    """plan: [(source, [backend of step 0, step 1, ...]), ...] -> visits."""
    out = []
    for session, (source, backends) in enumerate(plan):
        for step, backend in enumerate(backends):
            out.append(Visit(session, step, source, (("SERVERID", backends[0]),) if step else (), answer(backend)))
    return out


def test_jain_and_max_over_mean():
    even = analysis.spread({"b1": 4, "b2": 4, "b3": 4})
    assert even.jain == pytest.approx(1.0) and even.max_over_mean == pytest.approx(1.0)
    one = analysis.spread({"b1": 12})
    assert one.jain == pytest.approx(1.0)  # one backend seen: the index is over the backends seen
    skewed = analysis.spread({"b1": 10, "b2": 1, "b3": 1})
    assert skewed.jain == pytest.approx(144 / (3 * 102)) and skewed.max_over_mean == pytest.approx(2.5)


def test_stickiness_and_spread_of_a_cookie_balancer():
    figs = analysis.figures(visits([(None, ["b1", "b1", "b1", "b1"]), (None, ["b2", "b2", "b2", "b2"]),
                                    (None, ["b3", "b3", "b1", "b3"])]), SIGNAL)
    assert figs.stickiness == pytest.approx(5 / 6) and figs.returning == 6
    assert figs.spread.sessions_per_backend == {"b1": 1, "b2": 1, "b3": 1}


def test_a_session_that_moves_once_it_holds_the_cookie_is_still_sticky():
    # nginx `hash $cookie_JSESSIONID`: the first request is placed before the application sets the cookie.
    figs = analysis.figures(visits([(None, ["b1", "b2", "b2"]), (None, ["b2", "b2", "b2"])]), SIGNAL)
    assert figs.stickiness == 1.0 and figs.moved_after_first == 1
    assert figs.spread.sessions_per_backend == {"b2": 2}


def test_source_ip_affinity_needs_several_sources():
    same_source = analysis.figures(visits([("127.0.0.2", ["b1"]), ("127.0.0.2", ["b1"])]), SIGNAL)
    assert analysis.source_ip(same_source) is None  # one source: a single backend, or source affinity
    several = analysis.figures(visits([("127.0.1.1", ["b1"]), ("127.0.1.1", ["b1"]),
                                       ("127.0.2.1", ["b2"]), ("127.0.2.1", ["b2"]),
                                       ("127.0.3.1", ["b3"]), ("127.0.3.1", ["b3"])]), SIGNAL)
    verdict = analysis.source_ip(several)
    assert verdict is not None and verdict.mechanism == "source-ip" and verdict.confidence == "high"
    spread_within = analysis.figures(visits([("127.0.1.1", ["b1"]), ("127.0.1.1", ["b2"]),
                                             ("127.0.2.1", ["b2"]), ("127.0.2.1", ["b2"])]), SIGNAL)
    assert analysis.source_ip(spread_within) is None


def test_the_cookie_whose_absence_moves_a_session_carries_the_affinity():
    made = visits([(None, ["b1", "b1", "b1"]), (None, ["b2", "b2", "b2"])])
    made = [v if not v.step else Visit(v.session, v.step, v.source, v.sent + (("theme", "dark"),), v.response)
            for v in made]
    figs = analysis.figures(made, SIGNAL)
    turn = iter(["b2", "b3", "b1"] * 10)

    def send(cookies, source):  # a balancer that routes by SERVERID and round-robins without it
        return answer(cookies["SERVERID"] if "SERVERID" in cookies else next(turn))

    cookie, evidence = analysis.cookie_carrying_affinity(made, figs, SIGNAL, send)
    assert cookie == "SERVERID" and any("without SERVERID" in line for line in evidence)
    assert not any("without theme" in line for line in evidence)
