from stickyguard.addons.balancing import clients


def test_a_connection_must_send_headers_before_its_deadline():
    w = clients.Waiting(timeout=10, limit=100)
    w.connected("a", now=0)
    w.connected("b", now=5)
    assert w.overdue(now=9) == []
    assert w.overdue(now=10) == ["a"] and len(w) == 1
    assert w.overdue(now=15) == ["b"] and len(w) == 0


def test_no_deadline_while_a_request_is_answered_and_a_fresh_one_after():
    w = clients.Waiting(timeout=10, limit=100)
    w.connected("a", now=0)
    w.started("a")
    w.started("a")  # two HTTP/2 streams
    assert w.overdue(now=100) == []
    w.finished("a", now=100)
    assert w.overdue(now=200) == []  # one stream still open
    w.finished("a", now=200)
    assert w.overdue(now=209) == [] and w.overdue(now=210) == ["a"]


def test_past_the_limit_the_longest_waiting_goes_and_a_gone_one_is_forgotten():
    w = clients.Waiting(timeout=10, limit=2)
    assert w.connected("a", 0) == [] and w.connected("b", 1) == []
    assert w.connected("c", 2) == ["a"]
    w.gone("b")
    assert len(w) == 1 and w.overdue(now=100) == ["c"]
