from stickyguard.audit import engine
from stickyguard.audit.conditions import Settings
from stickyguard.audit.records import Exchange


def ex(set_cookies, url="https://shop.example/", place="entry 0", top=None):
    headers = [("Set-Cookie", c) for c in set_cookies] + [("Date", "Wed, 01 Jan 2025 10:00:00 GMT")]
    return Exchange(url, "GET", 200, [], headers, None, top, "cap.har", place)


def report_of(audit):
    return audit.report([], [], "2025-01-01T10:00:00Z", {"name": "stickyguard", "version": "0"})


def test_findings_consolidate_per_rule_host_and_cookie(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["BIGipServerweb=1677787402.36895.0000; path=/"], place="entry 0"))
    audit.add(ex(["BIGipServerweb=1694564618.36895.0000; path=/"], place="entry 1"))
    audit.add(ex(["BIGipServerweb=1677787402.36895.0000; path=/"], place="entry 2"))
    report = report_of(audit)
    sg201 = [f for f in report.findings if f.rule == "SG201"]
    assert len(sg201) == 1
    finding = sg201[0]
    assert finding.count == 3
    assert finding.place == "entry 0"
    # Both backends the cookie revealed are in the evidence, once each.
    assert [e["summary"] for e in finding.evidence] == [
        "10.1.1.100:8080 (private), pool web", "10.1.1.101:8080 (private), pool web"]
    assert finding.message == (
        "BIGipServerweb from shop.example decodes to 10.1.1.100:8080 (private), pool web: an internal address "
        "of the network behind the site, readable by every visitor.")
    # One inventory row per backend the cookie named, each counted.
    assert [(c["decoded"]["ip"], c["seen"]) for c in report.cookies] == [("10.1.1.100", 2), ("10.1.1.101", 1)]


def test_findings_are_sorted_by_severity_then_rule(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["SERVERID=s1; Path=/; Max-Age=99999", "BIGipServerweb=1677787402.36895.0000"]))
    report = report_of(audit)
    ranks = [f.sort_key() for f in report.findings]
    assert ranks == sorted(ranks)
    assert report.findings[0].severity == "high"


def test_deleting_set_cookie_is_inventoried_not_judged(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["SERVERID=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"]))
    report = report_of(audit)
    assert report.findings == []
    assert [(c["name"], c["expiry"], c["lifetime_from"]) for c in report.cookies] == [
        ("SERVERID", "deleted", "response Date")]


def test_expired_value_is_judged_and_its_leak_found(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["BIGipServerweb_pool=117773322.64288.0000; expires=Thu, 01-Jan-2015 00:00:00 GMT; path=/"]))
    report = report_of(audit)
    (row,) = report.cookies
    assert (row["expiry"], row["decoded"]["ip"], row["decoded"]["port"]) == ("expired", "10.20.5.7", 8443)
    rules = {f.rule for f in report.findings}
    assert "SG201" in rules and not rules & {"SG301", "SG302", "SG303"}


def test_placeholder_deletions_are_deletions(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["SERVERID=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0; path=/",
                  "lb_route=x; Max-Age=0"]))
    report = report_of(audit)
    assert report.findings == []
    assert [(c["name"], c["expiry"], c["vendor"]) for c in report.cookies] == [
        ("SERVERID", "deleted", "haproxy"), ("lb_route", "deleted", None)]


def test_an_expired_values_findings_say_the_browser_keeps_nothing(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["SERVERID=10.0.3.4:8080; Expires=Thu, 01 Jan 2015 00:00:00 GMT"]))
    for finding in report_of(audit).findings:
        assert finding.message.endswith("the value reached the client, but the browser does not keep the cookie.")


def test_a_value_recognised_by_its_shape_caps_the_findings_confidence(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["stick=MTAuMC4wLjU6ODA4MA==; Path=/"]))
    sg201 = next(f for f in report_of(audit).findings if f.rule == "SG201")
    assert sg201.confidence == "medium"


def test_candidates_advice_counts_address_and_port_pairs(ruleset, catalog):
    from stickyguard.audit import recovery

    audit = engine.Audit(ruleset, catalog, candidates=recovery.parse(["10.9.9.0/30"]))
    audit.add(ex(["srv_id=0123456789abcdef0123456789abcdef; Path=/"]))
    sg209 = next(f for f in report_of(audit).findings if f.rule == "SG209")
    assert "--candidates hashed 12 address and port pairs and none matched it" in sg209.message


def test_pasted_headers_without_a_date_are_judged_at_audit_time(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(Exchange("https://shop.example/", "GET", 200, [],
                       [("Set-Cookie", "SERVERID=s1; Expires=Thu, 01-Jan-2015 00:00:00 GMT")], None, None, "-", "line 1"))
    (row,) = report_of(audit).cookies
    assert (row["expiry"], row["lifetime_from"]) == ("expired", "audit time")


def test_every_backend_and_balancer_keeps_its_row(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["SERVERID=10.0.3.4:8080", "SERVERID=10.0.3.5:8080", "SERVERID=10.0.3.4:8080"]))
    report = report_of(audit)
    assert [(c["decoded"]["ip"], c["seen"]) for c in report.cookies] == [("10.0.3.4", 2), ("10.0.3.5", 1)]
    assert [a["address"] for a in report.ip_exposure["internal_addresses"]] == ["10.0.3.4:8080", "10.0.3.5:8080"]
    assert report.sites[0]["cookies"] == 1  # one cookie, two backends


def test_inventory_row(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["route=5f; Domain=shop.example; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=315360000"],
                 url="https://www.shop.example/x?token=SECRET"))
    (row,) = report_of(audit).cookies
    assert row == {
        "host": "www.shop.example",
        "site": "shop.example",
        "name": "route",
        "vendor": None,
        "vendor_name": None,
        "vendor_managed": False,
        "affinity": True,
        "classified_by": "heuristic",
        "attributes": {"secure": True, "httponly": True, "samesite": "Lax", "partitioned": False,
                       "domain": "shop.example", "path": "/"},
        "domain_scope": "registrable",
        "expiry": None,
        "lifetime_from": "Max-Age",
        "lifetime_seconds": 315360000,
        "effective_lifetime_seconds": 34560000,
        "party": "unknown",
        "top_level_site": None,
        "decoded": None,
        "set_by": "https://www.shop.example/x",
        "first_seen": "cap.har: entry 0",
        "seen": 1,
        "rules": ["SG106", "SG302", "SG303"],
        "exemption": {"verdict": "outside the exemption",
                      "reasons": ["route persists for 10 years, far past the session"]},
    }


def test_vendor_managed(ruleset, catalog):
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex(["AWSALB=x; Path=/", "JSESSIONID=7D8A2F0B4C1E9A3D5F6B8C0E2A4D6F81.node2; Path=/"]))
    rows = {r["name"]: r["vendor_managed"] for r in report_of(audit).cookies}
    assert rows == {"AWSALB": True, "JSESSIONID": False}


def test_values_stay_out_unless_asked(ruleset, catalog):
    secret = "s3cr3t-session-value"
    audit = engine.Audit(ruleset, catalog)
    audit.add(ex([f"AWSALB={secret}; Path=/"]))
    assert secret not in repr(report_of(audit).as_dict())
    shown = engine.Audit(ruleset, catalog, show_values=True)
    shown.add(ex([f"AWSALB={secret}; Path=/"]))
    data = report_of(shown).as_dict()
    assert data["cookies"][0]["value"] == secret
    assert data["findings"][0]["evidence"] == [{"set_cookie": f"AWSALB={secret}; Path=/"}]


def test_budget_comes_from_settings(ruleset, catalog):
    strict = engine.Audit(ruleset, catalog, Settings(max_lifetime_seconds=60))
    strict.add(ex(["SERVERID=s1; Path=/; Max-Age=3600"]))
    sg302 = [f for f in report_of(strict).findings if f.rule == "SG302"]
    assert sg302 and "a lifetime past the 1 minute budget" in sg302[0].message
    lax = engine.Audit(ruleset, catalog, Settings(max_lifetime_seconds=7200))
    lax.add(ex(["SERVERID=s1; Path=/; Max-Age=3600"]))
    assert not [f for f in report_of(lax).findings if f.rule == "SG302"]


def test_vendor_specific_rule_matches_only_that_vendor(ruleset, catalog):
    from dataclasses import replace

    only_haproxy = [replace(r, cookie="haproxy") if r.id == "SG102" else r for r in ruleset]
    audit = engine.Audit(only_haproxy, catalog)
    audit.add(ex(["SERVERID=s1", "AWSALB=x"]))
    assert {f.cookie for f in report_of(audit).findings if f.rule == "SG102"} == {"SERVERID"}


def test_run_examples_reports_each_example(ruleset, catalog):
    results = engine.run_examples(ruleset, catalog)
    assert all(r.ok for r in results)
    total = sum(len(r.examples["match"]) + len(r.examples["no_match"]) for r in ruleset)
    assert len(results) == total


def test_safe_url_drops_query_and_fragment():
    assert engine.safe_url("https://a.example/p?q=secret#frag") == "https://a.example/p"
    assert engine.safe_url("https://a.example") == "https://a.example/"
