"""Plain-text tables for a terminal (tabulate), readable in 80 columns by default."""

from __future__ import annotations

from stickyguard.audit.findings import Report
from stickyguard.audit.report import common

DEFAULT_TABLE_FORMAT = "simple"
# Column widths that keep the default table within 80 columns.
_FINDING_WIDTHS = [8, 5, 16, 16, 24]
_COOKIE_WIDTHS = [16, 16, 12, 12, 10]
_SITE_WIDTHS = [16, 19, 7, 8, 21]


def render(report: Report, tablefmt: str = DEFAULT_TABLE_FORMAT) -> str:
    data = common.printable_data(report.as_dict())
    out = [_headline(data, report), ""]
    if data["findings"]:
        out += _findings("Findings", data["findings"], tablefmt)
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


def render_overview(report: Report, tablefmt: str = DEFAULT_TABLE_FORMAT, worst: int = 8) -> str:
    """A screenful: the summary, one row per site with its exemption verdict, and the `worst`
    most severe findings; the full report holds the rest."""
    data = common.printable_data(report.as_dict())
    out = [_headline(data, report), ""]
    if data["sites"]:
        rows = [
            [s["site"], "\n".join(f"{n} x{k}" if k > 1 else n for n, k in s["vendors"].items()) or "-",
             s["worst"] or "-", s["findings"], s["exemption"]["verdict"]]
            for s in data["sites"]
        ]
        out += _section("Sites", rows, ["Site", "Affinity cookies", "Worst", "Findings", "Consent exemption"],
                        tablefmt, _SITE_WIDTHS)
    if data["findings"]:
        shown = data["findings"][:worst]
        title = "Most severe findings" + (f" ({len(shown)} of {len(data['findings'])})" if worst < len(data["findings"])
                                          else "")
        out += _findings(title, shown, tablefmt)
    return "\n".join(out).rstrip("\n") + "\n"


def _headline(data: dict, report: Report) -> str:
    return f"stickyguard {data['tool']['version']}: {common.summary_line(report)}"


def _findings(title: str, findings: list[dict], tablefmt: str) -> list[str]:
    rows = []
    for f in findings:
        text = common.status_tag(f) + f["title"]
        for line in common.evidence(f):
            text += f"\n-> {line}"
        if f["count"] > 1:
            text += f"\n({f['count']} times)"
        rows.append([f["severity"], f["rule"], f["host"], f["cookie"], text])
    return _section(title, rows, ["Severity", "Rule", "Host", "Cookie", "Finding"], tablefmt, _FINDING_WIDTHS)


def _section(title: str, rows: list, headers: list[str], tablefmt: str, widths: list[int]) -> list[str]:
    from tabulate import tabulate  # loaded by the formats that draw tables, not by every audit

    return [title, tabulate(rows, headers=headers, tablefmt=tablefmt, maxcolwidths=widths), ""]
