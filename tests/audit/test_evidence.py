import json

from stickyguard.audit import conditions
from stickyguard.audit import decoders
from stickyguard.audit import evidence
from stickyguard.audit import leaks
from stickyguard.audit.datafiles import RULES_DIR


def test_describe():
    assert evidence.describe(None) == ""
    assert evidence.describe(decoders.bigip("BIGipServerweb_pool", "1677787402.36895.0000")) == (
        "10.1.1.100:8080 (private), pool web_pool")
    assert evidence.describe(decoders.bigip("BIGipServerv6", "rd3o20010db8000000000000000000000030o80")) == (
        "[2001:db8::30]:80 (documentation), pool v6, route domain 3")
    assert evidence.describe({"encrypted": True, "pool": "p", "confidence": "high"}) == "encrypted value, pool p"


def test_every_named_group_decodes_to_fires_on_has_declared_keys():
    for group in ("pool-name", "server-name", "timing", "personal-data", "jwt-personal-claims"):
        assert evidence.keys_in(group), group


def test_the_leak_search_returns_declared_keys_only():
    for value in ("http://10.0.0.1:8080/app", "app-3.internal:8443", "jane@example.com", "10.1.2.3:80",
                  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lQGV4YW1wbGUuY29tIiwiZW1haWwiOiJqQGV4YW1wbGUuY29tIn0.x"):
        found = leaks.find(value)
        assert found and evidence.undeclared(found) == set(), value


def test_the_schema_offers_exactly_what_decodes_to_understands():
    """A decodes_to argument the schema allows but the condition does not know would never fire."""
    schema = json.loads((RULES_DIR / "schema.json").read_text())
    offered = schema["$defs"]["condition"]["properties"]["decodes_to"]["enum"]
    assert sorted(offered) == sorted(conditions.DECODES_TO)
