import base64
import json

import pytest

from stickyguard.audit import leaks
from stickyguard.audit import limits
from stickyguard.audit.engine import Audit
from stickyguard.audit.records import Exchange


def deep_jwt(depth=1400):
    """A 2.7 kB JWT whose payload nests JSON deeper than Python's recursion limit (the reported case)."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).rstrip(b"=").decode()
    return f"{header}.{payload}.sig"


def exchange(set_cookies):
    return Exchange("https://shop.example/", "GET", 200, [], [("Set-Cookie", c) for c in set_cookies], None, None,
                    "t.har", "entry 0")


def test_deep_json_is_a_value_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        limits.loads("[" * 100_000 + "]" * 100_000)
    assert limits.loads('{"a": [1]}') == {"a": [1]}


def test_a_deeply_nested_jwt_is_not_read_and_hides_nothing_beside_it(ruleset, catalog):
    assert leaks.find(deep_jwt()) is None
    audit = Audit(ruleset, catalog)
    audit.add(exchange([f"session={deep_jwt()}", "BIGipServerweb=1677787402.36895.0000"]))
    report = audit.report([], [], "t", {"name": "stickyguard", "version": "0"})
    assert "SG201" in {f.rule for f in report.findings}


def test_cuts_are_reported_not_silent(ruleset, catalog):
    audit = Audit(ruleset, catalog)
    audit.add(exchange([f"c{i}=v" for i in range(limits.MAX_SET_COOKIES + 20)]))
    audit.add(exchange(["big=" + "x" * 5000 + "10.1.2.3:8080"]))
    report = audit.report([], [], "t", {"name": "stickyguard", "version": "0"})
    messages = [str(e) for e in report.errors]
    assert messages == [f"t.har: entry 0: {limits.MAX_SET_COOKIES + 20} Set-Cookie lines in one response; the first "
                        f"{limits.MAX_SET_COOKIES} were audited",
                        "t.har: entry 0: cookie big's value is 5013 characters; its first 4096 were searched"]
    assert len(report.cookies) == limits.MAX_SET_COOKIES + 1
    json.dumps(report.as_dict())
