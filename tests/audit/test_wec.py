"""The EDPS Website Evidence Collector's output folder as an audit input (audit/wec.py)."""

import json
import shutil

from stickyguard.audit import engine
from stickyguard.audit import sources
from stickyguard.audit import wec
from tests.conftest import CAPTURES

FOLDER = CAPTURES / "wec-shop"


def jar():
    return json.loads((FOLDER / "inspection.json").read_text())["cookies"]


def audit(path, ruleset, catalog):
    auditor = engine.Audit(ruleset, catalog)
    capture = sources.open_capture(str(path))
    for exchange in capture.exchanges():
        auditor.add(exchange)
    return capture, auditor.report([capture.describe()], capture.errors, "t", {"name": "stickyguard", "version": "0"})


def test_the_folder_is_read_as_one_input(ruleset, catalog):
    capture, report = audit(FOLDER, ruleset, catalog)
    assert capture.kind == "wec" and not capture.errors
    assert capture.describe()["first_seen"].startswith("2024-06-12T09:14")
    # Every cookie in WEC's jar is in the inventory, each once, whether the HAR had its response or not.
    assert sorted((c["name"], c["host"]) for c in report.cookies) == sorted(
        (c["name"], c["domain"] if c["name"] != "_ga" else "collect.tracker.example") for c in jar())
    bigip = next(c for c in report.cookies if c["name"] == "BIGipServerpool_web")
    assert bigip["decoded"]["ip"] == "10.1.1.100" and bigip["first_seen"].endswith("requests.har: entry 0")
    script = next(c for c in report.cookies if c["name"] == "cc_consent")
    assert script["first_seen"].endswith("inspection.json: cookies[1] (set by a script)")
    assert {c["name"]: c["party"] for c in report.cookies}["_ga"] == "third"
    assert "SG201" in {f.rule for f in report.findings}


def test_inspection_json_alone_is_recognised(ruleset, catalog):
    capture, report = audit(FOLDER / "inspection.json", ruleset, catalog)
    assert capture.kind == "wec" and len(report.cookies) == len(jar())


def test_a_har_without_set_cookie_headers_loses_no_cookie(tmp_path, ruleset, catalog):
    folder = tmp_path / "wec"
    shutil.copytree(FOLDER, folder)
    har = json.loads((folder / "requests.har").read_text())
    for entry in har["log"]["entries"]:  # as puppeteer-har often writes it
        entry["response"]["headers"] = [h for h in entry["response"]["headers"] if h["name"].lower() != "set-cookie"]
        entry["response"]["cookies"] = []
    (folder / "requests.har").write_text(json.dumps(har))
    _, report = audit(folder, ruleset, catalog)
    rows = {c["name"]: c for c in report.cookies}
    assert set(rows) == {c["name"] for c in jar()}
    assert rows["BIGipServerpool_web"]["decoded"]["ip"] == "10.1.1.100"
    assert rows["BIGipServerpool_web"]["lifetime_seconds"] is None  # expires -1: a session cookie
    # Counted from when WEC logged it set (whole seconds, as an HTTP date has them): 7 days.
    assert 604800 <= rows["AWSALB"]["lifetime_seconds"] <= 604801
    assert rows["AWSALB"]["first_seen"].endswith("inspection.json: cookies[2] (from the browser's cookie jar)")


def test_a_folder_that_is_not_wec_output_is_said_plainly(tmp_path):
    try:
        sources.open_capture(str(tmp_path))
    except sources.CaptureError as e:
        assert "without inspection.json" in str(e)
    else:
        raise AssertionError("an empty folder was accepted")


def test_a_damaged_inspection_is_an_error_with_its_place(tmp_path):
    (tmp_path / "inspection.json").write_text('{"title": "x", "uri_ins": "https://a.example/", "cookies": 3}')
    capture = sources.open_capture(str(tmp_path))
    assert list(capture.exchanges()) == []
    assert [str(e) for e in capture.errors] == [
        f"{sources.display_name(str(tmp_path))}: inspection.json: not a Website Evidence Collector inspection: "
        'no "cookies" list']


def test_rebuilt_lines_cannot_smuggle_attributes():
    line = wec._set_cookie_line({"name": "a;b", "value": "v; Domain=evil.example"}, "shop.example", "/", "shop.example")
    assert line.split("; ")[0] == "ab=v Domain=evil.example"
