from stickyguard.audit import compliance
from stickyguard.audit.engine import Audit
from stickyguard.audit.records import Exchange


def report_for(ruleset, catalog, set_cookies, url="https://shop.example/", top=None):
    audit = Audit(ruleset, catalog)
    audit.add(Exchange(url, "GET", 200, [], [("Set-Cookie", c) for c in set_cookies], None, top, "t", "p"))
    return audit.report([], [], "t", {"name": "stickyguard", "version": "0"})


def verdict(report):
    (site,) = report.sites  # the engine's, with the rules tagged personal-data and the 1 day budget
    return site["exemption"]


def test_session_first_party_affinity_is_within(ruleset, catalog):
    r = report_for(ruleset, catalog, ["__Host-SERVERID=s1; Path=/; Secure; HttpOnly; SameSite=Lax"])
    assert verdict(r) == {"verdict": "within the exemption", "reasons": []}


def test_persistent_third_party_or_personal_is_outside(ruleset, catalog):
    r = report_for(ruleset, catalog, ["SERVERID=s1; Max-Age=600", "route=alice%40example.com"],
                   url="https://cdn.other.example/x", top="https://shop.example/")
    assert verdict(r) == {"verdict": "outside the exemption", "reasons": [
        "SERVERID persists for 10 minutes: short, within the 1 day budget, but not a session cookie",
        "SERVERID is set in a third-party context",
        "route is set in a third-party context", "route carries personal data"]}


def test_each_affinity_cookie_carries_its_own_standing(ruleset, catalog):
    r = report_for(ruleset, catalog, ["SERVERID=s1; Max-Age=1800", "AWSALB=x; Path=/", "theme=dark"])
    rows = {c["name"]: c["exemption"] for c in r.cookies}
    assert rows["theme"] is None
    assert rows["AWSALB"] == {"verdict": "within the exemption", "reasons": []}
    assert rows["SERVERID"]["verdict"] == "doubtful: short-lived persistence"


def test_no_affinity_cookie_says_what_a_capture_cannot_show(ruleset, catalog):
    found = verdict(report_for(ruleset, catalog, ["theme=dark"]))
    assert found == {"verdict": "no affinity cookie", "reasons": [compliance.NO_COOKIE_NOTE]}
    assert "IP address" in compliance.NO_COOKIE_NOTE


def test_lifetime_is_weighed(ruleset, catalog):
    short = verdict(report_for(ruleset, catalog, ["SERVERID=s1; Max-Age=1800; Secure; HttpOnly"]))
    assert short == {"verdict": "doubtful: short-lived persistence", "reasons": [
        "SERVERID persists for 30 minutes: short, within the 1 day budget, but not a session cookie"]}
    long = verdict(report_for(ruleset, catalog, ["SERVERID=s1; Max-Age=15552000; Secure; HttpOnly"]))
    assert long == {"verdict": "outside the exemption", "reasons": [
        "SERVERID persists for 180 days, far past the session"]}


def test_an_expired_value_is_not_a_persistent_cookie(ruleset, catalog):
    r = report_for(ruleset, catalog, ["SERVERID=s1; Expires=Thu, 01-Jan-2015 00:00:00 GMT"])
    assert verdict(r) == {"verdict": "within the exemption", "reasons": []}


def test_site_summary_counts(ruleset, catalog):
    r = report_for(ruleset, catalog, ["BIGipServerweb=1677787402.36895.0000", "AWSALB=x", "theme=dark"])
    (site,) = compliance.sites(r.cookies, r.findings)
    assert (site["cookies"], site["affinity_cookies"], site["worst"]) == (3, 2, "high")
    assert site["vendors"] == {"AWS Application Load Balancer": 1, "F5 BIG-IP LTM": 1}


def test_two_balancers_behind_one_name_are_both_named(ruleset, catalog):
    r = report_for(ruleset, catalog, ["INGRESSCOOKIE=1598371152.898.2320.533481", "INGRESSCOOKIE=srv001"])
    (site,) = compliance.sites(r.cookies, r.findings)
    assert site["vendors"] == {"HAProxy Ingress (haproxy-ingress)": 1, "Kubernetes ingress-nginx": 1}


def test_ip_exposure_and_charts(ruleset, catalog):
    r = report_for(ruleset, catalog, ["BIGipServerweb=1677787402.36895.0000", "sticky-host=MS4yLjMuNDo4MA=="])
    exposure = compliance.ip_exposure(r.cookies, r.findings, {"SG308"})
    assert exposure["internal_addresses"] == [{"address": "10.1.1.100:8080", "seen_in": ["shop.example BIGipServerweb"]}]
    assert exposure["other_addresses"] == [{"address": "1.2.3.4:80", "class": "public", "seen_in": ["shop.example sticky-host"]}]
    charts = compliance.charts(r.cookies, r.findings)
    assert list(charts["findings_by_severity"]) == ["critical", "high", "medium", "low", "info"]
    assert charts["affinity_cookies_by_vendor"] == {"F5 BIG-IP LTM": 1, "Envoy stateful session": 1}


def test_the_personal_data_rules_are_the_ones_tagged_so_in_their_yaml(ruleset):
    assert {r.id for r in ruleset if "personal-data" in r.tags} == {"SG306", "SG307", "SG308"}
    assert {r.id for r in ruleset if "client-address" in r.tags} == {"SG308"}
