"""The facade the addons, the demo and the CLI call."""

import os

import pytest

from stickyguard.audit import api
from tests.conftest import CAPTURES


def test_audit_a_capture_through_the_facade(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735725600")
    auditor = api.new_audit(*api.load_rules())
    inputs, errors = api.read_inputs(auditor, [str(CAPTURES / "chrome-shop.har"), "no-such-file.har"])
    report = api.report(auditor, inputs, errors)
    # Named relative to where the audit ran, never by an absolute path.
    assert [i["path"] for i in inputs] == [os.path.relpath(CAPTURES / "chrome-shop.har")]
    assert len(errors) == 1 and "no-such-file.har" in str(errors[0])
    assert report.generated_at == "2025-01-01T10:00:00Z" and report.tool["name"] == "stickyguard"
    assert report.findings and api.FORMATS["json"].render(report).startswith("{")


def test_extra_rule_folders_and_only_them(tmp_path):
    rules, _ = api.load_rules()
    assert len(rules) > 20
    with pytest.raises(ValueError):
        api.load_rules([], only=True)
    with pytest.raises(api.RuleFileError):
        (tmp_path / "SG150-x.yaml").write_text("id: SG150\n")
        api.load_rules([tmp_path])


def test_report_format_for_a_file_name():
    assert api.report_format_for("r.sarif").name == "sarif"
    assert api.report_format_for("r").name == "html"
