import pytest

from stickyguard.audit.report import table_format
from tests.conftest import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_golden(render, golden, scenario):
    golden(f"{scenario}.txt", render(scenario, "table"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_file_gets_the_default_width(render, scenario):
    text = render(scenario, "table")  # written with -o: no terminal to measure
    assert max(len(line) for line in text.splitlines()) <= table_format.DEFAULT_WIDTH


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_the_table_fits_the_terminal_it_is_drawn_for(ruleset, catalog, width):
    from stickyguard.audit import api
    from stickyguard.audit.engine import Audit
    from tests.conftest import ROOT

    auditor = Audit(ruleset, catalog)
    inputs, errors = api.read_inputs(auditor, [str(ROOT / "tests/data/captures/chrome-shop.har")])
    text = table_format.render(auditor.report(inputs, errors, "t", {"name": "stickyguard", "version": "0"}),
                               width=width)
    tables = [line for line in text.splitlines()[1:] if not line.startswith(("stickyguard", "  "))]
    assert max(len(line) for line in tables) <= max(width, 82)  # 60 columns cannot hold every 12-letter word
    if width >= 120:
        assert "BIGipServer~Common~web_pool" in text  # wide enough: the name is never split


def test_decoded_evidence_is_shown(render):
    text = render("headers", "table")
    assert "-> 10.1.1.100:8080" in text and "-> 93.184.216.34:80" in text


def test_other_tabulate_formats(render):
    text = render("headers", "table", "--table-format", "grid")
    assert "+=====" in text


def test_empty_report(ruleset, catalog):
    from stickyguard.audit.engine import Audit

    report = Audit(ruleset, catalog).report([], [], "t", {"name": "stickyguard", "version": "0"})
    assert table_format.render(report).endswith("No findings.\n")


def test_overview_is_a_screenful_with_sites_and_the_worst_findings(ruleset, catalog):
    from stickyguard.audit import api
    from stickyguard.audit.engine import Audit
    from tests.conftest import ROOT

    auditor = Audit(ruleset, catalog)
    inputs, errors = api.read_inputs(auditor, [str(ROOT / "tests/data/captures/chrome-shop.har")])
    report = auditor.report(inputs, errors, "t", {"name": "stickyguard", "version": "0"})
    text = table_format.render_overview(report, worst=3, width=80)
    assert text.startswith("stickyguard 0: 1 input, ")
    assert "\nSites\n" in text and "shop.example" in text and "exemption" in text
    assert f"Most severe findings (3 of {len(report.findings)})" in text
    assert text.count("\nhigh ") + text.count("\nmedium ") + text.count("\nlow ") <= 3
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Cookie inventory" not in text
