import pytest

from audit.report import table_format
from tests.conftest import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden(render, golden, scenario):
    golden(f"{scenario}.txt", render(scenario, "table"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fits_80_columns(render, scenario):
    text = render(scenario, "table")
    assert max(len(line) for line in text.splitlines()) <= 80


def test_decoded_evidence_is_shown(render):
    text = render("headers", "table")
    assert "-> 10.1.1.100:8080" in text and "-> 93.184.216.34:80" in text


def test_other_tabulate_formats(render):
    text = render("headers", "table", "--table-format", "grid")
    assert "+=====" in text


def test_empty_report(ruleset, catalog):
    from audit.engine import Audit

    report = Audit(ruleset, catalog).report([], [], "t", {"name": "stickyguard", "version": "0"})
    assert table_format.render(report).endswith("No findings.\n")
