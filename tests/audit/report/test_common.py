from stickyguard.audit.findings import Report
from stickyguard.audit.report import common


def cookie(**kw):
    base = {"attributes": {"secure": False, "httponly": False, "samesite": None, "partitioned": False,
                           "domain": None, "path": "/"},
            "vendor_name": None, "affinity": False, "lifetime_seconds": None, "effective_lifetime_seconds": None}
    base.update(kw)
    return base


def test_flags():
    assert common.flags(cookie()) == "no SameSite"
    full = cookie(attributes={"secure": True, "httponly": True, "samesite": "Lax", "partitioned": True,
                              "domain": "a.example", "path": "/"})
    assert common.flags(full) == "Secure, HttpOnly, SameSite=Lax, Partitioned, Domain=a.example"


def test_vendor():
    assert common.vendor(cookie(vendor_name="HAProxy", affinity=True)) == "HAProxy"
    assert common.vendor(cookie(affinity=True)) == "affinity (by name)"
    assert common.vendor(cookie()) == "-"


def test_lifetime_shows_the_cap():
    assert common.lifetime(cookie()) == "session"
    assert common.lifetime(cookie(lifetime_seconds=86400, effective_lifetime_seconds=86400)) == "1 day"
    assert common.lifetime(cookie(lifetime_seconds=315360000, effective_lifetime_seconds=34560000)) == (
        "10 years (capped to 400 days)")


def test_summary_line():
    report = Report({}, "t", [{"path": "a"}], [], [{}, {}], [], [])
    assert common.summary_line(report) == "1 input, 2 cookies, 0 findings"


def test_evidence_and_where():
    finding = {"evidence": [{"summary": "10.0.0.1:80 (private)"}, {"set_cookie": "a=1"}],
               "basis": [{"ref": "RFC 6265", "url": "https://x", "kind": "rfc"}], "source": "s", "place": "p"}
    assert common.evidence(finding) == ["10.0.0.1:80 (private)"]
    assert common.where(finding) == "s: p"


def test_vendor_says_when_the_value_decided():
    assert common.vendor(cookie(vendor_name="F5 BIG-IP LTM", classified_by="value")) == "F5 BIG-IP LTM (by its value)"
    assert common.vendor(cookie(vendor_name="HAProxy", classified_by="name and value")) == (
        "HAProxy (by name and value)")


def test_lifetime_says_what_it_was_judged_against():
    assert common.lifetime(cookie(expiry="expired", lifetime_seconds=0, lifetime_from="response Date")) == (
        "expired at capture")
    assert common.lifetime(cookie(expiry="expired", lifetime_seconds=0, lifetime_from="audit time")) == (
        "expired at capture (no date in the input: judged at the audit's time)")
    assert common.lifetime(cookie(expiry="deleted", lifetime_seconds=0, lifetime_from="Max-Age")) == "deleted"
    assert common.lifetime(cookie(lifetime_seconds=86400, effective_lifetime_seconds=86400,
                                  lifetime_from="audit time")) == (
        "1 day (from Expires, judged at the audit's time: the input has no date)")
