import asyncio
import json
import logging

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from stickyguard.addons import auditor


def respond(addon, f):
    asyncio.run(addon.response(f))


def flow(*set_cookies):
    req = tutils.treq(scheme=b"https", host="shop.example", port=443, headers=[(b"host", b"shop.example")])
    resp = tutils.tresp(headers=[(b"set-cookie", c.encode()) for c in set_cookies])
    return tflow.tflow(req=req, resp=resp)


@pytest.fixture
def live():
    addon = auditor.Auditor()
    with taddons.context(addon) as tctx:
        tctx.configure(addon)
        yield addon, tctx


def test_logs_each_new_finding_once(live, caplog):
    addon, _ = live
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        respond(addon, flow("BIGipServerweb=1677787402.36895.0000; path=/"))
    lines = [r.getMessage() for r in caplog.records if "SG201" in r.getMessage()]
    assert lines == ["stickyguard high SG201 shop.example BIGipServerweb: "
                     "Cookie value decodes to an internal network address"]
    assert addon.responses == 3


def test_report_on_done_and_on_command(live, tmp_path):
    addon, tctx = live
    respond(addon, flow("SERVERID=s1; Path=/"))
    on_demand = tmp_path / "now.json"
    tctx.master.commands.call("audit.report", str(on_demand))
    doc = json.loads(on_demand.read_text())
    assert doc["inputs"] == [{"path": "live traffic", "kind": "live", "sha256": None, "exchanges": 1}]
    assert {f["rule"] for f in doc["findings"]} >= {"SG101", "SG205"}
    final = tmp_path / "final.html"
    tctx.configure(addon, audit_report=str(final))
    addon.done()
    assert "<h1>Cookie affinity audit" in final.read_text()


@pytest.mark.parametrize("path,explicit,fmt", [
    ("r.html", "", "html"), ("r.SARIF", "", "sarif"), ("r.md", "", "markdown"), ("r.txt", "", "table"),
    ("r.out", "", "html"), ("r.html", "json", "json"),
])
def test_format_for(path, explicit, fmt):
    assert auditor.format_for(path, explicit) == fmt


def test_option_errors(live, tmp_path):
    addon, tctx = live
    with pytest.raises(exceptions.OptionsError, match="audit_format must be one of"):
        tctx.configure(addon, audit_format="pdf")
    with pytest.raises(exceptions.OptionsError, match="audit_rules: not a folder"):
        tctx.configure(addon, audit_rules=[str(tmp_path / "nope")])
    with pytest.raises(exceptions.OptionsError, match="audit_rules: .*SG150-broken-rule.yaml:5: severity"):
        tctx.configure(addon, audit_rules=["tests/data/bad/rules"])


def test_unwritable_report_is_a_command_error(live, tmp_path):
    addon, tctx = live
    with pytest.raises(exceptions.CommandError, match="cannot write"):
        addon.write(str(tmp_path / "no" / "dir" / "r.json"), "json")


def test_script_loads_as_mitmdump_would():
    with taddons.context() as tctx:
        script = tctx.script("addons/auditor.py")
        assert script.addons[0].__class__.__name__ == "Auditor"


def test_a_report_made_while_responses_are_queued_counts_them(live, tmp_path):
    """Found in review: the report read the response count before the queued responses were judged."""
    addon, _ = live
    out = tmp_path / "r.json"

    async def go():
        pending = [asyncio.ensure_future(addon.response(flow(f"BIGipServerw{i}=1677787402.36895.0000")))
                   for i in range(3)]
        await asyncio.sleep(0)  # each handed to the worker
        addon.write(str(out), "json")
        await asyncio.gather(*pending)

    asyncio.run(go())
    report = json.loads(out.read_text())
    assert report["inputs"][0]["exchanges"] == 3 and len({f["cookie"] for f in report["findings"]}) == 3
