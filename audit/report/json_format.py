"""The JSON report: a contract that later tools rely on, described by report.schema.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from stickyguard.audit.findings import Report

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def render(report: Report) -> str:
    return "".join(pieces(report))


def pieces(report: Report) -> Iterator[str]:
    """The report a line at a time: one top-level key per line, and each item of a list (a finding, a
    cookie) on a line of its own. Readable, diff-friendly item by item, written by json's C encoder
    (which `indent` turns off: an indented 100 MB HAR's report took 0.9 s to write, this a third of
    that), and never held whole as text."""
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
    data = report.as_dict()
    yield "{\n"
    for i, key in enumerate(sorted(data)):
        value = data[key]
        comma = "," if i < len(data) - 1 else ""
        if isinstance(value, list) and value:
            yield f"  {encode(key)}: [\n"
            for n, item in enumerate(value):
                yield f"    {encode(item)}{',' if n < len(value) - 1 else ''}\n"
            yield f"  ]{comma}\n"
        else:
            yield f"  {encode(key)}: {encode(value)}{comma}\n"
    yield "}\n"
