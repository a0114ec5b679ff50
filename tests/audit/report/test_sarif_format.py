import json

import pytest
from jsonschema import validators

from tests.conftest import DATA
from tests.conftest import SCENARIOS

# The OASIS schema, kept in the repository with its source and licence (tests/data/schemas/README.md).
SARIF_SCHEMA = DATA / "schemas" / "sarif-schema-2.1.0.json"


def validate(doc):
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = validators.validator_for(schema)
    errors = list(cls(schema).iter_errors(doc))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_and_oasis_schema(render, golden, scenario):
    text = render(scenario, "sarif")
    golden(f"{scenario}.sarif", text)
    validate(json.loads(text))


def test_github_code_scanning_fields(render):
    doc = json.loads(render("headers", "sarif"))
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    sg201 = next(r for r in rules if r["id"] == "SG201")
    assert "external/cwe/cwe-497" in sg201["properties"]["tags"]
    assert sg201["properties"]["security-severity"] == "8.0"
    result = next(r for r in run["results"] if r["ruleId"] == "SG201")
    assert result["level"] == "error"
    assert rules[result["ruleIndex"]]["id"] == "SG201"
    assert "Decoded: 10.1.1.100:8080 (private), pool web_pool." in result["message"]["text"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "tests/data/captures/shop-headers.txt"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert result["partialFingerprints"]["stickyguardFinding/v1"]


def test_input_errors_become_notifications(run, tmp_path):
    out = tmp_path / "r.sarif"
    status, _, _ = run("audit", "tests/data/bad/truncated.mitm", "-f", "sarif", "-o", str(out))
    assert status == 2
    doc = json.loads(out.read_text())
    validate(doc)
    invocation = doc["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "the file ends inside this flow record" in invocation["toolExecutionNotifications"][0]["message"]["text"]
