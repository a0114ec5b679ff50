import json

import pytest

from stickyguard.audit.report import json_format
from tests.conftest import SCENARIOS
from tests.conftest import assert_valid

SCHEMA = json.loads(json_format.SCHEMA_PATH.read_text())


def validate(doc):
    assert_valid(SCHEMA, doc)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden_and_schema(render, golden, scenario):
    text = render(scenario, "json")
    golden(f"{scenario}.json", text)
    validate(json.loads(text))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_contract_keys(render, scenario):
    doc = json.loads(render(scenario, "json"))
    assert {"tool", "generated_at", "inputs", "cookies", "findings", "errors"} <= set(doc)
    for cookie in doc["cookies"]:
        assert {"host", "site", "name", "vendor", "affinity", "attributes", "lifetime_seconds", "decoded"} <= set(cookie)
    for finding in doc["findings"]:
        assert {"rule", "severity", "confidence", "host", "cookie", "message", "cwe", "basis"} <= set(finding)


def test_show_values_is_still_valid(render):
    doc = json.loads(render("headers", "json", "--show-values"))
    validate(doc)
    assert {c["name"]: c["value"] for c in doc["cookies"]}["SERVERID"] == "app2"


def test_decoded_in_inventory(render):
    doc = json.loads(render("flows", "json"))
    by_name = {c["name"]: c for c in reversed(doc["cookies"])}  # a cookie's first row (one per backend)
    assert by_name["BIGipServerapp_pool"]["decoded"] == {
        "ip": "192.168.10.10", "port": 8080, "address_class": "private", "pool": "app_pool",
        "route_domain": 2, "confidence": "high"}
    assert by_name["lang"]["decoded"] is None
