"""The registry of affinity kinds: the one list the balancer addon, the launcher's --affinity choices and
flags, and the demo read. A new kind is a module here with a class that follows affinity.Kind, and one
entry below; tests/addons/balancing/kinds/test_registry.py checks that the entry is complete."""

from __future__ import annotations

import dataclasses

from stickyguard.addons.balancing.affinity import Kind
from stickyguard.addons.balancing.kinds.app_cookie import AppCookieAffinity
from stickyguard.addons.balancing.kinds.cookie import CookieAffinity
from stickyguard.addons.balancing.kinds.ip import IpAffinity
from stickyguard.addons.balancing.kinds.route import RouteAffinity
from stickyguard.addons.balancing.options import COMMON
from stickyguard.addons.balancing.options import Option

KINDS: dict[str, type[Kind]] = {k.name: k for k in (CookieAffinity, AppCookieAffinity, IpAffinity, RouteAffinity)}


def _options() -> tuple[Option, ...]:
    """Every balancer option: the shared ones (with --affinity naming every kind), then each kind's own."""
    shared = tuple(dataclasses.replace(o, choices=tuple(KINDS)) if o.name == "balance_affinity" else o
                   for o in COMMON)
    return shared + tuple(o for kind in KINDS.values() for o in kind.options)


OPTIONS: tuple[Option, ...] = _options()
