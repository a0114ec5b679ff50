import pytest

from stickyguard.audit.engine import Audit
from stickyguard.audit.records import Exchange
from stickyguard.audit.report import markdown_format
from tests.conftest import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden(render, golden, scenario):
    golden(f"{scenario}.md", render(scenario, "markdown"))


def test_values_from_traffic_are_escaped(ruleset, catalog):
    audit = Audit(ruleset, catalog)
    audit.add(Exchange("https://shop.example/", "GET", 200, [],
                       [("Set-Cookie", "route<img src=x onerror=alert(1)>|x=1; Path=/")], None, None, "t", "entry 0"))
    text = markdown_format.render(audit.report([], [], "t", {"name": "stickyguard", "version": "0"}))
    assert "<img" not in text
    assert "route&lt;img src" in text


@pytest.mark.parametrize("raw,escaped", [("a|b", "a\\|b"), ("*x*", "\\*x\\*"), ("<b>", "&lt;b&gt;"), ("a\nb", "a b")])
def test_esc(raw, escaped):
    assert markdown_format.esc(raw) == escaped
