"""One row of the performance table: what was measured, the figure, its aim and whether it holds.

Every benchmark returns its rows from a `figures()` function; `bench/run_all.py` (`make bench`) prints them
as one table, keeps it in bench/latest.md and pastes it into the README's performance section.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LATEST = ROOT / "bench" / "latest.md"
BEGIN, END = "<!-- bench: begin (bench/run_all.py writes this table) -->", "<!-- bench: end -->"


@dataclasses.dataclass(frozen=True)
class Figure:
    area: str  # balancer, scale, audit
    what: str
    measured: str
    aim: str
    holds: bool | None  # None: shown for information, no aim
    command: str

    def row(self) -> str:
        verdict = "" if self.holds is None else ("holds" if self.holds else "**MISSED**")
        cells = [self.area, self.what, self.measured, self.aim or "", verdict, f"`{self.command}`"]
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def table(figures: list[Figure], heading: str) -> str:
    lines = [heading, "", "| area | what | measured | aim | holds | command |", "|---|---|---|---|---|---|"]
    return "\n".join(lines + [f.row() for f in figures]) + "\n"


def paste_into_readme(text: str, readme: Path = ROOT / "README.md") -> None:
    """Replace the README's section between the markers with `text`."""
    old = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(old):
        raise SystemExit(f"bench: {readme} has no {BEGIN} ... {END} section")
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}{END}", old), encoding="utf-8")


def readme_section(readme: Path = ROOT / "README.md") -> str:
    text = readme.read_text(encoding="utf-8")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].lstrip("\n")
