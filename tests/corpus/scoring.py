"""Score the audit's reading of real cookie values against the truth their sources give.

For each balancer value: is the vendor named right, and, where the value is decodable, does the
reading hold every fact of the truth exactly. For every value, balancer's or not: does the reading
claim an address, URL, host or e-mail the truth does not hold (a false leak). bench/corpus_score.py
prints the table; tests/corpus/test_scoring.py holds the audit to its targets.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import defaultdict
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from stickyguard.audit import catalog as catalog_mod

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
# What a reading may claim that counts as a leak when the truth does not hold it.
LEAK_KEYS = ("ip", "url", "host", "email", "port")


def load(name: str) -> list[dict[str, Any]]:
    return YAML(typ="safe").load((CORPUS / name).read_text(encoding="utf-8"))


@dataclasses.dataclass
class Row:
    vendor: str
    values: int = 0
    named: int = 0
    decodable: int = 0
    decoded: int = 0
    false_leaks: int = 0
    misses: list[str] = dataclasses.field(default_factory=list)


def _same(truth: Any, got: Any) -> bool:
    if got is None:
        return False
    try:
        return ipaddress.ip_address(str(truth)) == ipaddress.ip_address(str(got))
    except ValueError:
        return str(truth).lower() == str(got).lower()


def false_leaks(truth: dict[str, Any], decoded: dict[str, Any] | None) -> list[str]:
    """The leak claims in the reading that the truth does not back."""
    decoded = decoded or {}
    return [f"{k}={decoded[k]}" for k in LEAK_KEYS
            if decoded.get(k) not in (None, "") and not (k in truth and _same(truth[k], decoded[k]))]


def score(catalog: catalog_mod.Catalog) -> dict[str, Row]:
    rows: dict[str, Row] = defaultdict(lambda: Row(""))
    for entry in load("balancer-cookies.yaml"):
        row = rows[entry["vendor"]]
        row.vendor = entry["vendor"]
        name = entry["name"] or "x"  # a value published without its name is read under a neutral one
        facts = catalog_mod.classify_and_decode(catalog, name, entry["value"])
        row.values += 1
        label = f"{name}={entry['value'][:60]}"
        if facts["vendor"] == entry["vendor"]:
            row.named += 1
        else:
            row.misses.append(f"{label}: named {facts['vendor']}")
        truth = entry["truth"] or {}
        decoded = facts["decoded"] or {}
        if entry["decodable"] and truth:
            row.decodable += 1
            wrong = [k for k, v in truth.items() if not _same(v, decoded.get(k))]
            if wrong:
                row.misses.append(f"{label}: {', '.join(f'{k} {truth[k]} read as {decoded.get(k)}' for k in wrong)}")
            else:
                row.decoded += 1
        leaks = false_leaks(truth, decoded)
        if leaks:
            row.false_leaks += 1
            row.misses.append(f"{label}: false leak {', '.join(leaks)}")
    other = rows["(not a balancer's)"]
    other.vendor = "(not a balancer's)"
    for entry in load("other-cookies.yaml"):
        facts = catalog_mod.classify_and_decode(catalog, entry["name"] or "x", entry["value"])
        other.values += 1
        label = f"{entry['name']}={entry['value'][:60]}"
        if facts["vendor"] is None and not facts["affinity"]:
            other.named += 1
        else:
            other.misses.append(f"{label}: called {facts['vendor'] or 'an affinity cookie'}")
        leaks = false_leaks(entry["truth"] or {}, facts["decoded"])
        if leaks:
            other.false_leaks += 1
            other.misses.append(f"{label}: false leak {', '.join(leaks)}")
    return dict(sorted(rows.items(), key=lambda kv: (kv[0].startswith("("), kv[0])))


def totals(rows: dict[str, Row]) -> Row:
    total = Row("all balancer values")
    for row in rows.values():
        if row.vendor.startswith("("):
            continue
        total.values += row.values
        total.named += row.named
        total.decodable += row.decodable
        total.decoded += row.decoded
        total.false_leaks += row.false_leaks
    return total


def markdown(rows: dict[str, Row]) -> str:
    """The table the README and the closing note carry."""
    def pct(a: int, b: int) -> str:
        return f"{a}/{b} ({100 * a / b:.0f} %)" if b else "-"

    lines = ["| balancer | values | vendor named right | decoded exactly | false leaks |", "|---|---|---|---|---|"]
    for row in [*rows.values(), totals(rows)]:
        lines.append(f"| {row.vendor} | {row.values} | {pct(row.named, row.values)} | "
                     f"{pct(row.decoded, row.decodable)} | {row.false_leaks} |")
    return "\n".join(lines) + "\n"
