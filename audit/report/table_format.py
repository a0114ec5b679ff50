"""Plain-text tables for a terminal (tabulate), as wide as the terminal.

Columns are sized so no word is split where the width allows (a cookie name is one word: it wraps whole
onto its own line, never as `BIGipServerpool_` / `web`), and the rest of the width goes to the columns with
the most text. Formats whose rows must stay on one line (github, pipe, tsv and the other markup formats)
get one line per row, never wrapped cells."""

from __future__ import annotations

from stickyguard.audit.findings import Report
from stickyguard.audit.report import common

DEFAULT_TABLE_FORMAT = "simple"
DEFAULT_WIDTH = 100  # columns when the report goes to a file or a pipe rather than a terminal
MIN_WIDTH = 40
SHORT_WORD = 12  # words up to this long never split, however narrow the terminal
# Formats drawn for a terminal, where one row may span several lines; every other format is a markup or a
# data format whose rows must each stay on one line.
WRAPPING_FORMATS = frozenset({
    "plain", "simple", "grid", "simple_grid", "rounded_grid", "heavy_grid", "mixed_grid", "double_grid",
    "fancy_grid", "colon_grid", "outline", "simple_outline", "rounded_outline", "heavy_outline", "mixed_outline",
    "double_outline", "fancy_outline", "psql", "pretty", "presto",
})


def render(report: Report, tablefmt: str = DEFAULT_TABLE_FORMAT, width: int = DEFAULT_WIDTH) -> str:
    data = common.printable_data(report.as_dict())
    out = [_headline(data, report), ""]
    if data.get("probe"):
        out += [*common.probe_lines(data["probe"]), ""]
    if data["findings"]:
        out += _findings("Findings", data["findings"], tablefmt, width)
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
        out += _section("Cookie inventory", rows, headers, tablefmt, width)
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


def render_overview(report: Report, tablefmt: str = DEFAULT_TABLE_FORMAT, worst: int = 8,
                    width: int = DEFAULT_WIDTH) -> str:
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
                        tablefmt, width)
    if data["findings"]:
        shown = data["findings"][:worst]
        title = "Most severe findings" + (f" ({len(shown)} of {len(data['findings'])})" if worst < len(data["findings"])
                                          else "")
        out += _findings(title, shown, tablefmt, width)
    return "\n".join(out).rstrip("\n") + "\n"


def _headline(data: dict, report: Report) -> str:
    return f"stickyguard {data['tool']['version']}: {common.summary_line(report)}"


def _findings(title: str, findings: list[dict], tablefmt: str, width: int) -> list[str]:
    rows = []
    for f in findings:
        text = common.status_tag(f) + f["title"]
        for line in common.evidence(f):
            text += f"\n-> {line}"
        if f["count"] > 1:
            text += f"\n({f['count']} times)"
        rows.append([f["severity"], f["rule"], f["host"], f["cookie"], text])
    return _section(title, rows, ["Severity", "Rule", "Host", "Cookie", "Finding"], tablefmt, width)


def _section(title: str, rows: list, headers: list[str], tablefmt: str, width: int) -> list[str]:
    from tabulate import tabulate  # loaded by the formats that draw tables, not by every audit

    cells = [[str(c) for c in row] for row in rows]
    if tablefmt not in WRAPPING_FORMATS:
        one_line = [[c.replace("\n", "; ") for c in row] for row in cells]
        return [title, tabulate(one_line, headers=headers, tablefmt=tablefmt), ""]
    width = max(width, MIN_WIDTH)
    room = width - _frame(tablefmt, len(headers))
    for _ in range(4):  # tabulate pads some columns past their text (headers get two spaces): narrow and redraw
        table = tabulate(cells, headers=headers, tablefmt=tablefmt,
                         maxcolwidths=column_widths(cells, headers, room))
        over = max(len(line) for line in table.splitlines()) - width
        if over <= 0:
            break
        room -= over
    return [title, table, ""]


def _frame(tablefmt: str, columns: int) -> int:
    """Characters a format draws around and between the columns: 2 between columns in the simple formats,
    3 plus the two borders in the boxed ones."""
    if tablefmt in ("plain", "simple"):
        return 2 * (columns - 1)
    return 3 * (columns - 1) + 4


def column_widths(rows: list[list[str]], headers: list[str], room: int) -> list[int | None]:
    """Widths within `room`: a column that fits whole stays whole; otherwise each column gets at least its
    longest word (so names wrap whole) and the room left goes to the columns with the most text. Only when
    even the longest words do not fit do words split."""
    columns = list(zip(headers, *rows, strict=True))
    natural = [max(len(line) for cell in col for line in cell.split("\n")) for col in columns]
    if sum(natural) <= room:
        return [None] * len(columns)
    longest_word = [max((len(w) for cell in col for w in cell.split()), default=1) for col in columns]
    widths = [min(n, w) for n, w in zip(natural, longest_word, strict=True)]
    if sum(widths) > room:
        # Not even the words fit: short words (a severity, a rule id) stay whole, long ones (a host, a
        # cookie name) share what is left and split.
        widths = [min(w, SHORT_WORD) for w in widths]
        if sum(widths) > room:
            return [max(4, room * w // sum(widths)) for w in widths]
        return _share(widths, [max(w - SHORT_WORD, 0) for w in longest_word], room)
    return _share(widths, [n - w for n, w in zip(natural, widths, strict=True)], room, natural)


def _share(widths: list[int], wants: list[int], room: int, natural: list[int] | None = None) -> list[int | None]:
    """`widths` grown by the room left, in proportion to what each column wants."""
    spare = room - sum(widths)
    total = sum(wants)
    grown = [w + (spare * want // total if total else 0) for w, want in zip(widths, wants, strict=True)]
    if natural is None:
        return list(grown)
    return [w if w < n else None for w, n in zip(grown, natural, strict=True)]
