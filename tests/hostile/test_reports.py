"""Any bytes in, valid reports out: undecodable bytes and lone surrogates become visible escapes, JSON
and SARIF stay valid UTF-8 and valid against their schemas, and the table and Markdown never carry a
character that acts on a terminal or splits a row (issue 12)."""

import json

import pytest
from jsonschema import Draft202012Validator
from jsonschema import validators
from mitmproxy import io
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from stickyguard.audit.report import json_format
from tests.conftest import DATA
from tests.conftest import run_process

SARIF = json.loads((DATA / "schemas" / "sarif-schema-2.1.0.json").read_text())
REPORT = json.loads(json_format.SCHEMA_PATH.read_text())


def flow_file(path, set_cookie: bytes):
    req = tutils.treq(scheme=b"https", host="shop.example", port=443, path=b"/", authority=b"",
                      headers=[(b"host", b"shop.example")])
    resp = tutils.tresp(headers=[(b"set-cookie", set_cookie)])
    with open(path, "wb") as f:
        io.FlowWriter(f).add(tflow.tflow(req=req, resp=resp))


def har_file(path, name: str):
    entry = {"request": {"method": "GET", "url": "https://shop.example/", "headers": []},
             "response": {"status": 200, "headers": [{"name": "Set-Cookie", "value": f"{name}=10.1.2.3:8080; Path=/"}]}}
    path.write_text(json.dumps({"log": {"entries": [entry]}}))  # ensure_ascii: the surrogate stays a \\ud800 escape


def check_all_formats(run, tmp_path, capture, name_shown):
    for fmt in ("json", "sarif", "table", "markdown", "html"):
        out = tmp_path / f"r.{fmt}"
        status, _, err = run("audit", str(capture), "--format", fmt, "-o", str(out))
        assert status == 1, err
        text = out.read_bytes().decode("utf-8")  # valid UTF-8, or this raises
        shown = {"json": json.dumps(name_shown)[1:-1], "sarif": json.dumps(name_shown)[1:-1],
                 "markdown": name_shown.replace("\\", "\\\\")}.get(fmt, name_shown)
        assert shown in text, fmt
        if fmt == "json":
            Draft202012Validator(REPORT).validate(json.loads(text))
        if fmt == "sarif":
            assert not list(validators.validator_for(SARIF)(SARIF).iter_errors(json.loads(text)))
    proc = run_process("audit", str(capture), "--format", "json")  # stdout, through a real process
    json.loads(proc.stdout.decode("utf-8"))


def test_a_non_utf8_cookie_name_in_a_flow_file(run, tmp_path):
    capture = tmp_path / "bytes.mitm"
    flow_file(capture, b"lb\xffx=10.1.2.3:8080; Path=/")
    check_all_formats(run, tmp_path, capture, "lb\\xffx")


def test_a_lone_surrogate_in_a_har(run, tmp_path):
    capture = tmp_path / "surrogate.har"
    har_file(capture, "lb\ud800x")
    check_all_formats(run, tmp_path, capture, "lb\\ud800x")


def test_a_capture_file_name_that_is_not_utf8_gives_a_valid_sarif_uri(tmp_path):
    capture = tmp_path / "shop headers.txt"
    capture.write_text("Set-Cookie: SERVERID=10.1.2.3:8080\n")
    proc = run_process("audit", str(capture), "--url", "https://shop.example/", "--format", "sarif")
    doc = json.loads(proc.stdout)
    uri = doc["runs"][0]["artifacts"][0]["location"]["uri"]
    assert "%20" in uri and " " not in uri


@pytest.mark.parametrize("name,raw", [
    ("lb\x1b]0;owned\x07", "\x1b"), ("lb\x1b[2J", "\x1b"), ("lb\rfake", "\r"), ("lb\u2028row", "\u2028"),
    ("lb\u202egpj.exe", "\u202e"),
])
def test_table_and_markdown_neutralise_control_characters(run, tmp_path, name, raw):
    capture = tmp_path / "inject.har"
    har_file(capture, name)
    for fmt in ("table", "markdown"):
        status, out, _ = run("audit", str(capture), "--format", fmt)
        assert status == 1 and raw not in out, fmt
        if fmt == "markdown":
            rows = [line for line in out.splitlines() if "lb" in line and line.startswith("|")]
            assert rows and all(line.endswith("|") for line in rows)
