"""The arrangement the HTML and Markdown reports share (audit/report/grouping.py)."""

from stickyguard.audit.engine import Audit
from stickyguard.audit.records import Exchange
from stickyguard.audit.report import grouping


def report_data(ruleset, catalog, lines_by_url):
    audit = Audit(ruleset, catalog)
    for url, lines in lines_by_url.items():
        audit.add(Exchange(url, "GET", 200, [], [("Set-Cookie", x) for x in lines], None, url, "t.har", "entry 0"))
    return audit.report([], [], "2025-01-01T10:00:00Z", {"name": "stickyguard", "version": "0"}).as_dict()


def test_each_rule_once_with_its_cookies_and_fixes_by_vendor(ruleset, catalog):
    data = report_data(ruleset, catalog, {
        "https://a.example/": ["BIGipServerpool_web=1677787402.36895.0000; Path=/"],
        "https://b.example/": ["NSC_Qspe-xxx=ffffffffc3a01f2445525d5f4f58455e445a4a423660; Path=/"],
        "https://c.example/": ["prefs=10.0.0.12; Path=/"],
    })
    groups = {g.rule["id"]: g for g in grouping.rule_groups(data)}
    internal = groups["SG201"]
    assert [f["host"] for f in internal.findings] == ["a.example", "b.example", "c.example"]
    # Display names, never catalog ids; the generic fix only for the cookie no vendor fix covers.
    assert [v for v, _ in internal.vendor_fixes] == ["Citrix NetScaler ADC", "F5 BIG-IP LTM"]
    assert internal.generic_fix
    worst_first = [g.rule["severity"] for g in grouping.rule_groups(data)]
    assert worst_first == sorted(worst_first, key=["critical", "high", "medium", "low", "info"].index)


def test_no_generic_fix_when_every_cookie_has_its_vendors(ruleset, catalog):
    data = report_data(ruleset, catalog, {"https://a.example/": ["BIGipServerpool_web=1677787402.36895.0000"]})
    internal = {g.rule["id"]: g for g in grouping.rule_groups(data)}["SG201"]
    assert internal.vendor_fixes[0][0] == "F5 BIG-IP LTM" and not internal.generic_fix


def test_overall_verdict_and_sites_needing_action_first(ruleset, catalog):
    data = report_data(ruleset, catalog, {
        "https://a.example/": ["SERVERID=s1; Path=/; Secure; HttpOnly"],
        "https://b.example/": ["SERVERID=s1; Max-Age=31536000"],
    })
    assert grouping.overall_verdict(data).startswith("1 of 2 sites outside the load-balancing consent exemption; "
                                                     "1 of 2 sites within the exemption.")
    assert [s["site"] for s in grouping.sites_by_verdict(data)] == ["b.example", "a.example"]
    assert grouping.site_anchor("a b/c.example") == "site-a-b-c.example"


def test_period_spans_every_input():
    data = {"inputs": [{"first_seen": "2025-01-02T00:00:00Z", "last_seen": "2025-01-03T00:00:00Z"},
                       {"first_seen": "2025-01-01T00:00:00Z", "last_seen": "2025-01-01T05:00:00Z"},
                       {"first_seen": None, "last_seen": None}]}
    assert grouping.period(data) == "2025-01-01T00:00:00Z to 2025-01-03T00:00:00Z"
    assert grouping.period({"inputs": []}) is None
