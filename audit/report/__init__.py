"""Report formats: one pure `render(report) -> str` per module, chosen by name from FORMATS."""

from collections.abc import Callable

from stickyguard.audit.findings import Report
from stickyguard.audit.report import html_format
from stickyguard.audit.report import json_format
from stickyguard.audit.report import markdown_format
from stickyguard.audit.report import sarif_format
from stickyguard.audit.report import table_format

FORMATS: dict[str, Callable[[Report], str]] = {
    "table": table_format.render,
    "markdown": markdown_format.render,
    "json": json_format.render,
    "sarif": sarif_format.render,
    "html": html_format.render,
}
