"""The format registry (audit/report/__init__.py): every format is complete, and the CLI and the live
auditor offer exactly what it lists."""

import pytest

from stickyguard.audit import report as report_formats
from stickyguard.audit.report import FORMATS
from tests.conftest import GOLDEN
from tests.conftest import SCENARIOS


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_is_complete(name):
    fmt = FORMATS[name]
    assert fmt.name == name and callable(fmt.render) and fmt.extensions
    for scenario in SCENARIOS:
        assert (GOLDEN / f"{scenario}{fmt.extensions[0]}").is_file(), f"{name} has no golden file for {scenario}"


def test_file_names_choose_formats():
    assert report_formats.for_path("r.MD").name == "markdown"
    assert report_formats.for_path("r.htm").name == "html"
    assert report_formats.for_path("r.sarif").name == "sarif"
    assert report_formats.for_path("report").name == "html"


def test_the_cli_offers_every_format(run):
    status, out, err = run("audit", "--help")
    assert status == 0
    for name in FORMATS:
        assert name in out
