import html.parser

import pytest

from stickyguard.audit.engine import Audit
from stickyguard.audit.records import Exchange
from stickyguard.audit.report import html_format
from tests.conftest import SCENARIOS

EVIL = '<script>alert("x")</script>'


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden(render, golden, scenario):
    golden(f"{scenario}.html", render(scenario, "html"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_self_contained(render, scenario):
    text = render(scenario, "html")
    assert "<script" not in text and "<link" not in text and " src=" not in text
    parser = html.parser.HTMLParser()
    parser.feed(text)  # well-formed enough to parse without error


def test_every_value_from_traffic_is_escaped(ruleset, catalog):
    audit = Audit(ruleset, catalog, show_values=True)
    audit.add(Exchange(f"https://shop.example/{EVIL}", "GET", 200, [],
                       [("Set-Cookie", f"route{EVIL}={EVIL}; Path=/")], None, None, f"cap{EVIL}.har", f"entry {EVIL}"))
    report = audit.report([{"path": f"in{EVIL}", "kind": "har", "sha256": "0" * 64, "exchanges": 1}],
                          [], EVIL, {"name": "stickyguard", "version": EVIL})
    text = html_format.render(report)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
