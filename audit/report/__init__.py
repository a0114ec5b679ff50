"""Report formats: one pure `render(report) -> str` per module, chosen by name from FORMATS."""

from collections.abc import Callable

from audit.findings import Report
from audit.report import html_format
from audit.report import json_format
from audit.report import markdown_format
from audit.report import sarif_format
from audit.report import table_format

FORMATS: dict[str, Callable[[Report], str]] = {
    "table": table_format.render,
    "markdown": markdown_format.render,
    "json": json_format.render,
    "sarif": sarif_format.render,
    "html": html_format.render,
}
