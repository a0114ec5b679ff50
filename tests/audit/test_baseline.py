import json

import pytest

from stickyguard.audit import baseline

HEADERS = "tests/data/captures/shop-headers.txt"


def test_new_unchanged_and_fixed(run, tmp_path):
    earlier = tmp_path / "last-month.json"
    # Last month's capture had the BIG-IP cookie and a cookie that has since gone.
    dump = tmp_path / "old.txt"
    dump.write_text("Set-Cookie: BIGipServerweb_pool=1677787402.36895.0000; path=/\n"
                    "Set-Cookie: ROUTEID=.gone; path=/\n")
    run("audit", str(dump), "--url", "https://shop.example/", "--format", "json", "-o", str(earlier))
    status, out, _ = run("audit", HEADERS, "--url", "https://shop.example/", "--format", "json",
                         "--baseline", str(earlier))
    doc = json.loads(out)
    statuses = {(f["rule"], f["cookie"]): f["status"] for f in doc["findings"]}
    assert statuses[("SG201", "BIGipServerweb_pool")] == "unchanged"
    assert statuses[("SG302", "SERVERID")] == "new"
    assert {(f["rule"], f["cookie"]) for f in doc["baseline"]["fixed"]} >= {("SG205", "ROUTEID")}
    assert doc["baseline"]["new"] + doc["baseline"]["unchanged"] == len(doc["findings"])
    assert status == 1


def test_only_new_findings_fail_the_run(run, tmp_path):
    earlier = tmp_path / "now.json"
    run("audit", HEADERS, "--url", "https://shop.example/", "--format", "json", "-o", str(earlier))
    status, _, _ = run("audit", HEADERS, "--url", "https://shop.example/", "--baseline", str(earlier))
    assert status == 0


@pytest.mark.parametrize("content,message", [
    (None, "No such file or directory"),
    ("{not json", "not a JSON report"),
    ('{"findings": [{"rule": "SG101"}]}', "not a stickyguard JSON report"),
])
def test_bad_baseline(run, tmp_path, content, message):
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    status, _, err = run("audit", HEADERS, "--baseline", str(path))
    assert status == 2 and err.startswith(f"stickyguard: error: --baseline: {path}: ") and message in err


def test_apply_directly(ruleset, catalog):
    from stickyguard.audit.engine import Audit
    from stickyguard.audit.records import Exchange

    audit = Audit(ruleset, catalog)
    audit.add(Exchange("https://a.example/", "GET", 200, [], [("Set-Cookie", "SERVERID=s1")], None, None, "t", "p"))
    report = audit.report([], [], "t", {"name": "stickyguard", "version": "0"})
    baseline.apply(report, {"f" * 64: {"rule": "SG999", "fingerprint": "f" * 64}}, "b.json")
    assert report.baseline["fixed"] == [{"rule": "SG999", "title": None, "severity": None, "host": None,
                                         "cookie": None, "fingerprint": "f" * 64}]
    assert all(f.status == "new" for f in report.findings)


@pytest.mark.parametrize("fmt,marker", [("table", "[new] "), ("markdown", "\\[new\\] "), ("html", "[new] ")])
def test_formats_show_status_and_fixed(run, tmp_path, fmt, marker):
    earlier = tmp_path / "e.json"
    dump = tmp_path / "old.txt"
    dump.write_text("Set-Cookie: ROUTEID=.gone; path=/\n")
    run("audit", str(dump), "--url", "https://shop.example/", "--format", "json", "-o", str(earlier))
    _, out, _ = run("audit", HEADERS, "--url", "https://shop.example/", "--format", fmt, "--baseline", str(earlier))
    assert marker in out and "Fixed since the baseline" in out
