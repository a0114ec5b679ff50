"""Report formats: one pure `render(report) -> str` per module, each described once in FORMATS.

A format is a record: its name (`--format`), how it renders, the file extensions that choose it when a
report file is named without a format (the first is the one it writes), and the options its renderer
takes beyond the report. The CLI, the live auditor and the tests all read this list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import Path

from stickyguard.audit.findings import Report
from stickyguard.audit.report import declaration_format
from stickyguard.audit.report import html_format
from stickyguard.audit.report import json_format
from stickyguard.audit.report import markdown_format
from stickyguard.audit.report import sarif_format
from stickyguard.audit.report import table_format


@dataclasses.dataclass(frozen=True)
class Format:
    name: str
    render: Callable[..., str]  # render(report, **options) -> str
    extensions: tuple[str, ...]
    options: tuple[str, ...] = ()  # keyword options of render, e.g. table's tablefmt
    # The same text in pieces, for a format whose reports grow with the input (never held whole).
    pieces: Callable[..., Iterable[str]] | None = None

    def stream(self, report: Report, **options: object) -> Iterable[str]:
        return self.pieces(report, **options) if self.pieces else [self.render(report, **options)]


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("table", table_format.render, (".txt",), options=("tablefmt", "width")),
    Format("markdown", markdown_format.render, (".md",)),
    Format("json", json_format.render, (".json",), pieces=json_format.pieces),
    Format("sarif", sarif_format.render, (".sarif",)),
    Format("html", html_format.render, (".html", ".htm")),
    # CSV, or JSON when the output file's name ends in .json (the CLI sets as_json).
    Format("declaration", declaration_format.render, (".csv",), options=("as_json",)),
)}


def for_path(path: str, default: str = "html") -> Format:
    """The format a report file's extension names (`report.md` is Markdown), else `default`."""
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS.values() if suffix in f.extensions), FORMATS[default])


def render(report: Report, name: str, **options: object) -> str:
    return FORMATS[name].render(report, **options)
