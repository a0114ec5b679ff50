"""Plain-text tables for a terminal (tabulate), readable in 80 columns by default."""

from __future__ import annotations

from tabulate import tabulate

from audit.findings import Report
from audit.report import common

DEFAULT_TABLE_FORMAT = "simple"
# Column widths that keep the default table within 80 columns.
_FINDING_WIDTHS = [8, 5, 16, 16, 24]
_COOKIE_WIDTHS = [16, 16, 12, 12, 10]


def render(report: Report, tablefmt: str = DEFAULT_TABLE_FORMAT) -> str:
    data = report.as_dict()
    out = [f"stickyguard {data['tool']['version']}: {common.summary_line(report)}", ""]
    if data["findings"]:
        rows = []
        for f in data["findings"]:
            text = common.status_tag(f) + f["title"]
            for line in common.evidence(f):
                text += f"\n-> {line}"
            if f["count"] > 1:
                text += f"\n({f['count']} times)"
            rows.append([f["severity"], f["rule"], f["host"], f["cookie"], text])
        out += _section("Findings", rows, ["Severity", "Rule", "Host", "Cookie", "Finding"], tablefmt, _FINDING_WIDTHS)
    if data["cookies"]:
        rows = []
        for c in data["cookies"]:
            leak = common.decoded(c["decoded"])
            rows.append(
                [
                    c["host"],
                    c["name"] + ("\n" + leak if leak else ""),
                    common.vendor(c),
                    common.flags(c),
                    common.lifetime(c) + ("\nthird party" if c["party"] == "third" else ""),
                ]
            )
        headers = ["Host", "Cookie", "Set by", "Flags", "Lifetime"]
        out += _section("Cookie inventory", rows, headers, tablefmt, _COOKIE_WIDTHS)
    if data.get("baseline", {}).get("fixed"):
        out.append("Fixed since the baseline")
        out.extend(f"  {x['rule']} {x['host']} {x['cookie']}: {x['title']}" for x in data["baseline"]["fixed"])
        out.append("")
    if data["errors"]:
        out.append("Input errors")
        out.extend(f"  {e['input']}: {e['place']}: {e['message']}" for e in data["errors"])
        out.append("")
    if not data["findings"]:
        out.append("No findings.")
    return "\n".join(out).rstrip("\n") + "\n"


def _section(title: str, rows: list, headers: list[str], tablefmt: str, widths: list[int]) -> list[str]:
    return [title, tabulate(rows, headers=headers, tablefmt=tablefmt, maxcolwidths=widths), ""]
