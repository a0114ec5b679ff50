"""The JSON report: a contract that later tools rely on, described by report.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

from stickyguard.audit.findings import Report

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def render(report: Report) -> str:
    return json.dumps(report.as_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
