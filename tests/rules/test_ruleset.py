"""Data tests of rules/: every rule is valid, unique, named after itself, and passes its own examples."""

import re

import pytest

from stickyguard.audit import engine
from stickyguard.audit import rules as rule_data
from stickyguard.audit.findings import SEVERITIES

RULE_FILES = rule_data.rule_files(rule_data.RULES_DIR)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem.split("-")[0])
def test_rule_file_is_valid(path):
    rule, problems = rule_data.load_rule_file(path)
    assert problems == [] and rule is not None


def test_ids_are_unique():
    ids = [p.name.split("-")[0] for p in RULE_FILES]
    assert len(ids) == len(set(ids))


def _examples():
    for path in RULE_FILES:
        rule, _ = rule_data.load_rule_file(path)
        for kind in ("match", "no_match"):
            for i in range(len(rule.examples[kind])):
                yield pytest.param(rule.id, kind, i, id=f"{rule.id}/{kind}[{i}]")


@pytest.fixture(scope="module")
def example_results(ruleset, catalog):
    return {(r.rule, r.kind, r.index): r for r in engine.run_examples(ruleset, catalog)}


@pytest.mark.parametrize("rule_id,kind,index", list(_examples()))
def test_rule_example(example_results, rule_id, kind, index):
    result = example_results[(rule_id, kind, index)]
    assert result.ok, f"{rule_id} {'did not fire' if kind == 'match' else 'fired'} on tests/{kind}/{index}"


# A lifetime or a documentation address is no listed weakness: these rules say so with an empty CWE list.
NO_CWE = {"SG211", "SG301", "SG302", "SG303", "SG304"}


def test_every_rule_cites_a_basis_and_a_cwe(ruleset):
    for rule in ruleset:
        assert rule.basis and rule.references
        assert bool(rule.cwe) == (rule.id not in NO_CWE), rule.id
        assert all(b["url"].startswith("https://") for b in rule.basis)


def test_the_first_rule_set_covers_the_audit_core(ruleset):
    """The checks the audit core promises, by what they look at."""
    conds = {r.id: dict(r.conditions) for r in ruleset}
    by = {r.id: r for r in ruleset}

    def some(pred):
        return [rid for rid, c in conds.items() if pred(by[rid], c)]

    assert some(lambda r, c: c.get("attribute_missing") == "secure" and c.get("scheme") == "https")
    assert some(lambda r, c: c.get("attribute_missing") == "httponly")
    assert some(lambda r, c: "missing" in c.get("samesite_in", []))
    assert some(lambda r, c: c.get("samesite_in") == ["none"] and c.get("attribute_missing") == "secure")
    assert some(lambda r, c: c.get("prefix_broken"))
    assert some(lambda r, c: "registrable" in c.get("domain_scope_in", []))
    assert some(lambda r, c: "parent" in c.get("domain_scope_in", []))
    assert some(lambda r, c: "public-suffix" in c.get("domain_scope_in", []))
    assert some(lambda r, c: c.get("lifetime_over_budget") is True and any(b["kind"] == "law" for b in r.basis))
    assert some(lambda r, c: c.get("lifetime_over_seconds") == 400 * 86400)
    assert some(lambda r, c: c.get("lifetime_over_budget"))
    assert some(lambda r, c: c.get("scheme") == "http" and r.cookie == "affinity")
    assert some(lambda r, c: c.get("decodes_to") == "private-address" and r.severity == "high")
    assert some(lambda r, c: c.get("decodes_to") == "public-address" and r.severity == "medium")


def test_severity_and_family(ruleset):
    for rule in ruleset:
        assert rule.severity in SEVERITIES
        assert int(rule.id[2]) in rule_data.FAMILIES
        assert re.fullmatch(r"SG\d{3}", rule.id)


def test_peer_ids_where_a_peer_has_one(ruleset):
    peers = {r.id: {(p["scanner"], p["id"]) for p in r.peers} for r in ruleset}
    assert ("OWASP ZAP", "10011") in peers["SG101"]
    assert ("OWASP ZAP", "10010") in peers["SG102"]
    assert ("nmap", "http-bigip-cookie") in peers["SG201"]
