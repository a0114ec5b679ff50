"""The cookie declaration (--format declaration): CSV or JSON, one row per cookie a site keeps, validated
against declaration.schema.json, and round-tripped from a Website Evidence Collector folder."""

import csv
import io
import json

import pytest

from stickyguard.audit.engine import Audit
from stickyguard.audit.records import Exchange
from stickyguard.audit.report import declaration_format
from tests.conftest import CAPTURES
from tests.conftest import SCENARIOS
from tests.conftest import assert_valid

SCHEMA = json.loads(declaration_format.SCHEMA_PATH.read_text())


def validate(doc):
    assert_valid(SCHEMA, doc)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_csv(render, golden, scenario):
    golden(f"{scenario}.csv", render(scenario, "declaration"))


def test_json_when_the_file_is_json(run, tmp_path):
    out = tmp_path / "cookies.json"
    status, _, err = run("audit", *SCENARIOS["har"], "--format", "declaration", "-o", str(out))
    assert status == 1, err
    doc = json.loads(out.read_text())
    validate(doc)
    rows = {c["name"]: c for c in doc["cookies"]}
    assert rows["BIGipServer~Common~web_pool"]["category"] == "strictly necessary"
    assert rows["BIGipServer~Common~web_pool"]["before_consent"] is True
    assert rows["AWSALB"]["category"] == "needs consent" and rows["AWSALB"]["before_consent"] is False
    assert rows["AWSALB"]["duration"] == "7 days" and rows["AWSALB"]["duration_seconds"] == 604800
    assert "far past the session" in rows["AWSALB"]["reason"]
    assert rows["theme"]["category"] == "not assessed" and rows["theme"]["before_consent"] is None
    assert rows["SERVERID"]["party"] == "third" and rows["SERVERID"]["provider"] == "HAProxy"


def test_the_wec_folder_round_trips(run, tmp_path):
    """Every cookie WEC found is declared once, with WEC's own domain, party and duration; CSV and JSON agree."""
    folder = CAPTURES / "wec-shop"
    as_json, as_csv = tmp_path / "d.json", tmp_path / "d.csv"
    run("audit", str(folder), "--format", "declaration", "-o", str(as_json))
    run("audit", str(folder), "--format", "declaration", "-o", str(as_csv))
    doc = json.loads(as_json.read_text())
    validate(doc)
    rows = list(csv.DictReader(io.StringIO(as_csv.read_text())))
    assert [r["name"] for r in rows] == [c["name"] for c in doc["cookies"]]
    jar = json.loads((folder / "inspection.json").read_text())
    declared = {c["name"]: c for c in doc["cookies"]}
    assert set(declared) == {c["name"] for c in jar["cookies"]}
    for cookie in jar["cookies"]:
        row = declared[cookie["name"]]
        assert row["domain"] == cookie["domain"] or row["host"] == cookie["domain"]
        assert row["party"] == ("first" if cookie["firstPartyStorage"] else "third")
        days = cookie.get("expiresDays")
        assert (row["duration_seconds"] == 0) == (cookie["expires"] == -1)
        if days:
            assert abs(row["duration_seconds"] / 86400 - days) < 0.01, cookie["name"]
    assert declared["BIGipServerpool_web"]["before_consent"] is True
    for row, cell in zip(doc["cookies"], rows, strict=True):
        assert cell["duration_seconds"] == str(row["duration_seconds"])
        assert cell["before_consent"] == {True: "yes", False: "no", None: ""}[row["before_consent"]]


def test_cells_a_spreadsheet_would_run_are_defused(ruleset, catalog):
    audit = Audit(ruleset, catalog)
    audit.add(Exchange("https://shop.example/", "GET", 200, [], [("Set-Cookie", "+SUM(1+1)*cmd|x=1; Path=/")],
                       None, None, "t", "p"))
    text = declaration_format.render(audit.report([], [], "t", {"name": "stickyguard", "version": "0"}))
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["name"] == "'+SUM(1+1)*cmd|x"  # OWASP: a leading quote keeps it text


def test_deleted_cookies_are_not_declared(ruleset, catalog):
    audit = Audit(ruleset, catalog)
    audit.add(Exchange("https://shop.example/", "GET", 200, [], [("Set-Cookie", "SERVERID=; Max-Age=0")],
                       None, None, "t", "p"))
    doc = json.loads(declaration_format.render(audit.report([], [], "t", {"name": "stickyguard", "version": "0"}),
                                               as_json=True))
    assert doc["cookies"] == []
