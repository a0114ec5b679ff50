import hashlib

from stickyguard.audit.findings import SEVERITIES
from stickyguard.audit.findings import Finding
from stickyguard.audit.findings import Report
from stickyguard.audit.findings import severity_rank
from stickyguard.audit.records import InputError


def finding(rule="SG101", severity="medium", host="a.example", cookie="c", site="a.example"):
    return Finding(rule=rule, name="n", title="t", severity=severity, confidence="high", cwe=["CWE-614"],
                   basis=[], references=[], host=host, site=site, cookie=cookie, vendor=None, message="m",
                   remediation="r", url="https://a.example/", source="s", place="p")


def test_ranking():
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2, 3, 4]
    assert severity_rank("high") > severity_rank("medium")


def test_fingerprint_is_stable_and_ignores_host_within_a_site():
    a = finding(host="www.a.example")
    b = finding(host="shop.a.example")
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != finding(cookie="other").fingerprint
    assert a.fingerprint == hashlib.sha256(b"SG101\x00a.example\x00c").hexdigest()


def test_report_summary_and_worst():
    r = Report({"name": "stickyguard", "version": "0"}, "t", [], [], [],
               [finding(severity="low"), finding(severity="high"), finding(severity="low")], [])
    assert r.summary() == {"info": 0, "low": 2, "medium": 0, "high": 1, "critical": 0}
    assert r.worst() == "high"
    assert Report({}, "t", [], [], [], [], []).worst() is None


def test_input_error_text():
    assert str(InputError("a.har", "entry 3", "bad")) == "a.har: entry 3: bad"
    assert str(InputError("a.har", "", "missing")) == "a.har: missing"
