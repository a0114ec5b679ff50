import threading

import pytest

from stickyguard.addons.demo import shop as demo_shop
from stickyguard.addons.demo.clients import Move
from stickyguard.addons.demo.clients import Shopper
from stickyguard.addons.demo.clients import tally


@pytest.fixture
def shops():
    servers = [demo_shop.make_server(name, name) for name in ("a", "b")]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [s.server_address[1] for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_shopper_fills_its_cart_and_checks_every_answer(shops):
    s = Shopper(0, "127.0.0.1", shops[0], steps=6)
    for r in range(6):
        s.step(r)
    s.close()
    assert s.finished and s.served_by == ["a"] * 6
    assert s.lost == [] and s.cart_errors == [] and s.moves == []
    assert len(s.expected) == 4 and "JSESSIONID" in s.cookies


def test_a_move_is_noticed_and_the_cart_restarts_on_the_new_backend(shops):
    s = Shopper(1, "127.0.0.1", shops[0], steps=6)
    s.step(0)
    s.step(1)
    s.close()
    s.port = shops[1]  # what a balancer does when the first backend dies
    s.step(2)
    s.step(3)
    assert [(m.round, m.source, m.target) for m in s.moves] == [(2, "a", "b")]
    assert s.cart_errors == [] and len(s.expected) == 2


def test_a_cart_that_lost_items_on_the_same_backend_is_reported(shops):
    s = Shopper(2, "127.0.0.1", shops[0], steps=6)
    s.step(0)
    s.step(1)
    s.cookies["JSESSIONID"] = "FORGOTTEN.a"  # the backend no longer knows the session
    s.step(2)
    assert s.cart_errors and s.cart_errors[0].startswith("a: cart [")


def test_a_refused_connection_is_a_lost_request():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = Shopper(3, "127.0.0.1", port, steps=2)
    s.step(0)
    assert len(s.lost) == 1 and s.lost[0].startswith("GET /: ConnectionRefusedError")


def test_tally_separates_forced_moves_from_broken_stickiness():
    a = Shopper(0, "h", 1, steps=4, served_by=["app1", "app2", "app2", "app2"], done_steps=4,
                moves=[Move(1, "app1", "app2")])
    b = Shopper(1, "h", 1, steps=4, served_by=["app3", "app1", "app1", "app3"], done_steps=4,
                moves=[Move(1, "app3", "app1"), Move(3, "app1", "app3")], cart_errors=["x"])
    c = Shopper(2, "h", 1, steps=4, served_by=["app3", "app3"], done_steps=4, lost=["GET /cart: status 502"])
    t = tally([a, b, c], down={1: {"app1", "app3"}, 2: {"app3"}, 3: set()})
    assert t.requests == 12 and t.sessions == 3
    assert t.by_backend == {"app1": {"sessions": 2, "requests": 3}, "app2": {"sessions": 1, "requests": 3},
                            "app3": {"sessions": 2, "requests": 4}}
    assert [m.source for m in t.failover_moves] == ["app1", "app3"]
    assert [(m.round, m.source) for m in t.other_moves] == [(3, "app1")]
    assert t.follow_ups == 7 and t.kept == 4
    assert t.stickiness == pytest.approx(4 / 5)
    assert t.carts_intact == 1
    assert t.lost == ["shopper 2: GET /cart: status 502"]
