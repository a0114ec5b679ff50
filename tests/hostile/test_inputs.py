"""Bad input is a one-line error naming file and place, never a traceback, and what came before it is
kept. Each case here crashed or hung the audit before (issue 12)."""

import json

import pytest

from stickyguard.audit import recording
from stickyguard.audit import sources
from stickyguard.audit.records import Exchange
from tests.conftest import CAPTURES


def recording_line(catalog, **changes):
    ex = Exchange("https://shop.example/", "GET", 200, [], [("Set-Cookie", "BIGipServerweb=1677787402.36895.0000")],
                  None, None, "t", "1")
    line = recording.record(ex, catalog, b"k" * 32)
    line["set_cookies"][0].update(changes)
    return json.dumps(line)


def audit(run, tmp_path, name, text, *extra):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    status, out, err = run("audit", str(path), "--format", "json", *extra)
    assert "Traceback" not in err
    return status, out, err, path


def test_deeply_nested_har(run, tmp_path):
    status, out, err, path = audit(run, tmp_path, "deep.har", '{"log": {"entries": [{"x": ' + "[" * 50_000 + "]" * 50_000
                                   + "}]}}")
    assert status == 2 and err.strip() == (f"stickyguard: error: {sources.display_name(str(path))}: byte 21 (entry 0): JSON nested too deeply to "
                                           "read; the 0 entries before it were read")
    assert json.loads(out)["errors"]


def test_deeply_nested_baseline(run, tmp_path):
    deep = tmp_path / "old.json"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    status, _, err = run("audit", str(CAPTURES / "shop-headers.txt"), "--baseline", str(deep))
    assert status == 2 and err.strip() == f"stickyguard: error: --baseline: {deep}: not a JSON report (JSON nested too " \
                                          "deeply to read)"


def test_har_cookie_expiring_past_year_9999(run, tmp_path):
    har = {"log": {"entries": [{"request": {"method": "GET", "url": "https://a.example/", "headers": []}, "response": {
        "status": 200, "headers": [], "cookies": [{"name": "SERVERID", "value": "s1",
                                                   "expires": "9999-12-31T23:30:00-01:00"}]}}]}}
    status, out, err, _ = audit(run, tmp_path, "late.har", json.dumps(har))
    assert status == 1, err
    (cookie,) = json.loads(out)["cookies"]
    assert cookie["name"] == "SERVERID" and cookie["lifetime_seconds"] > 400 * 86400


@pytest.mark.parametrize("changes,message", [
    ({"vendor": "no-such-vendor"}, "the recording names vendor 'no-such-vendor', which the catalog does not know"),
    ({"decoded": {"ip": "10.1.1.100", "port": 8080}}, "set_cookies/0/decoded: 'address_class' is a dependency of 'ip'"),
    ({"affinity": "yes"}, "set_cookies/0/affinity: 'yes' is not of type 'boolean'"),
    ({"decoded": {"ip": "10.1.1.100", "address_class": "private", "__class__": 1}}, "set_cookies/0/decoded"),
])
def test_recording_lines_that_lie(run, tmp_path, catalog, changes, message):
    good = recording_line(catalog)
    status, out, err, path = audit(run, tmp_path, "r.jsonl", good + "\n" + recording_line(catalog, **changes) + "\n")
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    report = json.loads(out)
    assert report["cookies"] and all(isinstance(c["affinity"], bool) for c in report["cookies"])
    from jsonschema import Draft202012Validator

    from stickyguard.audit.report import json_format

    Draft202012Validator(json.loads(json_format.SCHEMA_PATH.read_text())).validate(report)


def test_a_baseline_whose_findings_lie(run, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"findings": [{"fingerprint": "x", "rule": ["SG201"], "title": "t", "severity": "high",
                                             "host": "h", "cookie": "c"}]}))
    status, _, err = run("audit", str(CAPTURES / "shop-headers.txt"), "--baseline", str(old))
    assert status == 2 and err.strip() == f"stickyguard: error: --baseline: {old}: findings[0]: rule is not a " \
                                          "string, as a stickyguard JSON report has it"


@pytest.mark.parametrize("record", [b"5:hello;", b"2:hi,"])  # a str, a bytes
def test_a_flow_file_record_that_is_not_a_flow(run, tmp_path, record):
    """Found by `make fuzz`: a tnetstring that is a string or bytes, not a flow's dict, crashed the reader."""
    from mitmproxy import io
    from mitmproxy.test import tflow

    path = tmp_path / "f.mitm"
    with open(path, "wb") as f:
        io.FlowWriter(f).add(tflow.tflow(resp=True))
        f.write(record)
    status, _, err = run("audit", str(path), "--format", "json")
    assert status == 2 and "(flow 1): not a flow record" in err and "Traceback" not in err
