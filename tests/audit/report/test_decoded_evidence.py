"""A header dump of any vendor's cookie shows, in every format, what leaked and the rule that fired."""

import html
import json

import pytest
from ruamel.yaml import YAML

from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import decoders
from stickyguard.audit import evidence
from stickyguard.audit import leaks
from stickyguard.audit import rules as rule_data
from stickyguard.audit.report import FORMATS
from stickyguard.audit.report import markdown_format
from tests.conftest import DATA

VECTORS = [v for v in YAML(typ="safe").load((DATA / "decoder-vectors.yaml").read_text())
           if v["kind"] not in ("negative", "detect-only")]
CATALOG = catalog_mod.load([rule_data.RULES_DIR])


def evidence_of(vector):
    found = CATALOG.classify(vector["name"], vector["value"])
    decoded = decoders.DECODERS[found.decoder](vector["name"], vector["value"])
    if not any(k not in ("confidence", "hash", "hash_of") for k in decoded):
        decoded = leaks.find(vector["value"]) or decoded
    return evidence.describe(decoded)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One header dump with every vendor's cookie, rendered in every format."""
    from stickyguard.audit import cli

    work = tmp_path_factory.mktemp("evidence")
    dump = work / "dump.txt"
    dump.write_text("HTTP/1.1 200 OK\n" + "".join(
        f"Set-Cookie: {v['name']}={v['value']}; Path=/; Secure; HttpOnly; SameSite=Lax\n" for v in VECTORS))
    outputs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1735725600")
        for fmt in FORMATS:
            out = work / f"r.{fmt}"
            assert cli.main(["audit", str(dump), "--format", fmt, "-o", str(out)]) == 1
            outputs[fmt] = out.read_text()
    return outputs


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['vendor']}-{v['value'][:10]}")
def test_every_format_shows_the_decoded_evidence(reports, vector):
    summary = evidence_of(vector)
    assert summary
    doc = json.loads(reports["json"])
    rules = {f["rule"] for f in doc["findings"] if f["cookie"] == vector["name"]
             and summary in {e.get("summary") for e in f["evidence"]}}
    assert rules, f"no finding shows {summary!r}"
    assert summary in reports["sarif"]
    assert markdown_format.esc(summary) in reports["markdown"]
    assert html.escape(summary) in reports["html"]
    # The table wraps long cells: the evidence starts after "-> " on its own line.
    assert "-> " + summary.split()[0] in reports["table"]
    for fmt in FORMATS:
        if fmt == "declaration":  # a list of cookies for a consent banner, not of findings
            assert vector["name"] in reports[fmt]
            continue
        assert any(rule in reports[fmt] for rule in rules), fmt
