"""Bounded work on any input: every pattern the toolkit runs on text a site or a capture controls, and
every decoder, finishes on adversarial 10 kB values in well under a second (a backtracking blow-up
takes minutes). The first case is the reported one: `lb=1::` + 40 letters + `::` took over a minute."""

import re
import time

import pytest

from stickyguard.addons.balancing.kinds import route
from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import cookies
from stickyguard.audit import decoders
from stickyguard.audit import leaks
from stickyguard.audit import sources
from stickyguard.audit.datafiles import RULES_DIR

N = 10_000
ADVERSARIAL = [
    "1::" + "a" * 40 + "::", "1::" + "ab" * (N // 2) + "::", "1:" * (N // 2), ":" * N, "a:" * (N // 2),
    "%" * N, "a@" * (N // 2), "a." * (N // 2) + "!", "a" * N, "0" * N, "1." * (N // 2), "[" + ":" * N,
    "~op=" * (N // 4), ";jsessionid=" + "a." * (N // 2) + "!", "eyJ" + "a" * N + ".", "=" * N,
    "http://" + "a" * N, "a-" * (N // 2) + ".internal!", "x" * N + "@" + "a." * (N // 4), "\t" * N,
    "BIGipServer" + "a" * N, "rd1o" + "0" * N, "a@b." + "c" * N, " ,;" * (N // 3),
]
BUDGET = 1.0  # seconds for all the adversarial values together, per pattern or decoder


def _patterns():
    for module in (leaks, decoders, cookies, sources, catalog_mod, route):
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern) and value.pattern and isinstance(value.pattern, str):
                yield f"{module.__name__}.{name}", value
    catalog = catalog_mod.load([RULES_DIR])
    for i, p in enumerate(catalog._patterns):
        for kind in ("pattern", "value"):
            if getattr(p, kind) is not None:
                yield f"catalog {p.vendor.id} {kind} {i}", getattr(p, kind)


@pytest.mark.parametrize("name,pattern", list(_patterns()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_pattern_is_linear_on_adversarial_values(name, pattern):
    start = time.process_time()
    for value in ADVERSARIAL:
        pattern.search(value)
        for _ in pattern.finditer(value):
            pass
    assert time.process_time() - start < BUDGET, name


@pytest.mark.parametrize("name", [*decoders.DECODERS, "leaks.find"])
def test_every_decoder_is_bounded_on_adversarial_values(name):
    decode = leaks.find if name == "leaks.find" else decoders.DECODERS[name]
    start = time.process_time()
    for value in ADVERSARIAL:
        if name == "leaks.find":
            decode(value)
        else:
            decode("BIGipServerpool", value)
            decode(value, value)
    assert time.process_time() - start < BUDGET, name


def test_the_reported_value_is_read_at_once_and_still_finds_real_addresses():
    start = time.process_time()
    leaks.find("1::" + "abcdefghij" * 4 + "::")
    leaks.find("1::" + "abcdef" * 7 + "::")
    assert time.process_time() - start < 0.1
    assert leaks.find("fd00::42")["ip"] == "fd00::42"
    assert leaks.find("node=fd00:1:2:3:4:5:6:7")["ip"] == "fd00:1:2:3:4:5:6:7"
    assert leaks.find("x%25y@corp.example")["email"] == "x%25y@corp.example"
