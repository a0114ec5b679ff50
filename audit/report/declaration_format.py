"""The cookie declaration a consent banner and a privacy policy need: each cookie a site sets, who sets it,
what it is for, how long it lives and whether it may be set before consent. CSV (for spreadsheets and
import screens) or JSON (declaration.schema.json; the README shows how to map it onto consent tools).

Only load-balancing cookies are assessed: a session, first-party affinity cookie with no personal data is
strictly necessary (the exemption's verdict, with its reasons); an affinity cookie that falls short needs
consent like any other; every other cookie's purpose is the site's to state, and the row says so.
Cookies the browser does not keep (deleted, or already expired when set) are not declared.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from stickyguard.audit.clock import human_duration
from stickyguard.audit.findings import Report
from stickyguard.audit.report import common

SCHEMA_PATH = Path(__file__).with_name("declaration.schema.json")
FORMAT = "stickyguard-cookie-declaration"
VERSION = 1
COLUMNS = ("site", "host", "name", "domain", "path", "party", "provider", "category", "purpose", "before_consent",
           "duration", "duration_seconds", "reason", "set_by")

NECESSARY, NEEDS_CONSENT, NOT_ASSESSED = "strictly necessary", "needs consent", "not assessed"
LOAD_BALANCING = "load balancing: keeps a visitor's requests on the same server (session affinity)"
OTHER_PURPOSE = "not a load-balancing cookie: its purpose is for the site to state"


def render(report: Report, as_json: bool = False) -> str:
    data = report.as_dict()
    rows = declaration(data)
    if as_json:
        doc = {"format": FORMAT, "version": VERSION, "generated_at": data["generated_at"],
               "tool": {"name": data["tool"]["name"], "version": data["tool"]["version"]},
               "sites": sorted({r["site"] for r in rows}), "cookies": rows}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row[k]) for k in COLUMNS})
    return out.getvalue()


def _cell(value: Any) -> str:
    """CSV text: yes/no for booleans, empty for unknown, and no cell a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = common.printable(str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # OWASP CSV injection


def declaration(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per site, host and cookie name (a cookie seen behind several backends is one cookie)."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for c in data["cookies"]:
        if c.get("expiry"):
            continue  # deleted or expired when set: the browser keeps nothing to declare
        key = (c["site"], c["host"], c["name"])
        row = _row(c)
        kept = merged.get(key)
        if kept is None or _weight(row) > _weight(kept):
            merged[key] = row
    return [merged[k] for k in sorted(merged)]


def _weight(row: dict[str, Any]) -> tuple:
    """Of a cookie's rows, the one to declare: the one that needs consent, then the longest lived."""
    return (row["before_consent"] is False, row["duration_seconds"])


def _row(c: dict[str, Any]) -> dict[str, Any]:
    seconds = c["effective_lifetime_seconds"] or 0
    exemption = c.get("exemption")
    if exemption is None:
        category, purpose, before, reason = NOT_ASSESSED, OTHER_PURPOSE, None, "not a load-balancing cookie"
    elif exemption["verdict"] == "within the exemption":
        category, purpose, before = NECESSARY, LOAD_BALANCING, True
        reason = "a first-party session cookie for load balancing, with no personal data: within the exemption"
    else:
        category, purpose, before = NEEDS_CONSENT, LOAD_BALANCING, False
        reason = f"{exemption['verdict']}: " + "; ".join(exemption["reasons"])
    party = c["party"]
    provider = c["vendor_name"] or (c["site"] if party != "third" else c["host"])
    return {
        "site": c["site"],
        "host": c["host"],
        "name": c["name"],
        "domain": c["attributes"]["domain"] or c["host"],
        "path": c["attributes"]["path"],  # None: the browser's default, the request path's directory
        "party": party,
        "provider": provider,
        "category": category,
        "purpose": purpose,
        "before_consent": before,
        "duration": human_duration(seconds or None),
        "duration_seconds": seconds,
        "reason": reason,
        "set_by": c["set_by"],
    }
