"""The registry of affinity kinds (addons/balancing/kinds/__init__.py): every entry is complete, and the
balancer, the launcher and the demo all offer exactly the registered kinds."""

import asyncio
import inspect
import random

import pytest

from stickyguard.addons.balancing import affinity
from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing.kinds import KINDS
from stickyguard.addons.balancing.kinds import OPTIONS
from stickyguard.addons.balancing.options import COMMON


def setup():
    specs = [backends.parse_backend_spec(f"{n}=http://127.0.0.1:1,route={n}") for n in ("a", "b")]
    values = {o.name: o.default for o in OPTIONS}
    return affinity.Setup(backends.Pool(specs, rng=random.Random(1)), values, [b"k" * 32])


class _Request:
    path, peer, tls = "/", "192.0.2.1", False

    def cookie(self, name):
        return None

    def header(self, name):
        return None

    def header_all(self, name):
        return []

    def query(self, name):
        return None


class _Response:
    def set_cookies(self):
        return []


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_is_complete(name):
    kind = KINDS[name]
    assert kind.name == name and kind.help and isinstance(kind.demo, affinity.Demo)
    common = {o.name for o in COMMON}
    assert all(o.name.startswith("balance_") and o.name not in common for o in kind.options)
    assert inspect.iscoroutinefunction(kind.decide) and inspect.iscoroutinefunction(kind.respond)
    strategy = kind.build(setup())
    decision = asyncio.run(strategy.decide(_Request()))
    assert isinstance(decision.reason, affinity.Reason) and decision.backend.name in ("a", "b")
    assert isinstance(asyncio.run(strategy.respond(_Request(), _Response(), decision, decision.backend)), list)


def test_the_balancer_the_launcher_and_the_demo_offer_every_kind():
    from stickyguard.addons import launch
    from stickyguard.addons.demo import main as demo

    for parser in (launch.build_balance_parser(), demo.build_parser()):
        (affinity_flag,) = [a for a in parser._actions if "--affinity" in a.option_strings]
        assert list(affinity_flag.choices or []) == list(KINDS) or set(KINDS) <= set(affinity_flag.metavar.strip("{}").split(","))
