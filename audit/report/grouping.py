"""How the reader's formats (HTML and Markdown) arrange a report, so the two read alike: the scope and an
overall verdict first, then each rule once with the cookies it found, then the inventory site by site.

A finding is one rule on one cookie; a reader wants the rule's basis, fix and peers said once, and a
table of where it fired. Fixes go by vendor: a cookie from a product the rule has a fix for gets that
product's fix (under its display name), and the generic fix is shown only for the cookies left.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from stickyguard.audit.findings import severity_rank

VERDICT_ORDER = ("outside the exemption", "doubtful: short-lived persistence", "within the exemption",
                 "no affinity cookie")


@dataclasses.dataclass(frozen=True)
class RuleGroup:
    rule: dict[str, Any]  # the rule as the report describes it (id, title, severity, basis, fixes, peers...)
    findings: list[dict[str, Any]]
    vendor_fixes: list[tuple[str, str]]  # (vendor display name, fix) for the vendors among the findings
    generic_fix: bool  # some finding's cookie has no vendor fix, so the generic fix applies to it

    @property
    def anchor(self) -> str:
        return rule_anchor(self.rule["id"])

    @property
    def hosts(self) -> list[str]:
        return sorted({f["host"] for f in self.findings})


def rule_anchor(rule_id: str) -> str:
    return f"rule-{rule_id}"


def site_anchor(site: str) -> str:
    return "site-" + "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in site)


def vendor_names(data: dict[str, Any]) -> dict[str, str]:
    """Vendor id -> the name people know it by, from the inventory (every finding's cookie is in it)."""
    return {c["vendor"]: c["vendor_name"] for c in data["cookies"] if c.get("vendor") and c.get("vendor_name")}


def vendor_name(vendor: str | None, names: dict[str, str]) -> str:
    if not vendor:
        return "-"
    return names.get(vendor, vendor)


def rule_groups(data: dict[str, Any]) -> list[RuleGroup]:
    """The rules that fired, worst first, each with its findings (by site, host and cookie)."""
    rules = {r["id"]: r for r in data["rules"]}
    names = vendor_names(data)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in data["findings"]:
        by_rule.setdefault(f["rule"], []).append(f)
    groups = []
    for rule_id, findings in by_rule.items():
        rule = rules.get(rule_id) or _rule_from(findings[0])
        fixes = rule.get("fixes") or {}
        vendors = sorted({f["vendor"] for f in findings if f.get("vendor") in fixes},
                         key=lambda v: vendor_name(v, names))
        groups.append(RuleGroup(
            rule=rule,
            findings=sorted(findings, key=lambda f: (f["site"], f["host"], f["cookie"])),
            vendor_fixes=[(vendor_name(v, names), fixes[v]) for v in vendors],
            generic_fix=any(f.get("vendor") not in fixes for f in findings),
        ))
    return sorted(groups, key=lambda g: (-severity_rank(g.rule["severity"]), g.rule["id"]))


def _rule_from(finding: dict[str, Any]) -> dict[str, Any]:
    """A finding whose rule the report does not list (a baseline's): what the finding itself says of it."""
    return {"id": finding["rule"], "title": finding["title"], "severity": finding["severity"],
            "confidence": finding["confidence"], "cwe": finding["cwe"], "basis": finding["basis"],
            "references": finding["references"], "peers": [], "remediation": finding["remediation"], "fixes": {}}


def cookies_by_site(data: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    by_site: dict[str, list[dict[str, Any]]] = {}
    for c in data["cookies"]:
        by_site.setdefault(c["site"], []).append(c)
    return sorted(by_site.items())


def period(data: dict[str, Any]) -> str | None:
    """`2025-01-01T10:00:00Z to 2025-01-01T10:05:00Z` over every input, or None when no exchange had a time."""
    firsts = [i["first_seen"] for i in data["inputs"] if i.get("first_seen")]
    lasts = [i["last_seen"] for i in data["inputs"] if i.get("last_seen")]
    if not firsts:
        return None
    first, last = min(firsts), max(lasts)
    return first if first == last else f"{first} to {last}"


def scope(data: dict[str, Any]) -> list[tuple[str, str]]:
    """What the report covers, as (label, text) rows; the formats add the rule set's digest, shown as code."""
    inputs = ", ".join(f"{i['path']} ({i['kind']}, {i['exchanges']} responses)" for i in data["inputs"]) or "none"
    return [
        ("Inputs", inputs),
        ("Capture period", period(data) or "not recorded in the inputs"),
        ("Sites", ", ".join(s["site"] for s in data["sites"]) or "none"),
        ("Audited", f"{data['generated_at']} by stickyguard {data['tool']['version']}"),
    ]


def overall_verdict(data: dict[str, Any]) -> str:
    """One sentence a reader can act on: how many sites stand where on the consent exemption, and the worst."""
    sites = data["sites"]
    if not sites:
        return "No cookie was set in the inputs, so there is nothing to judge."
    counts = {v: sum(s["exemption"]["verdict"] == v for s in sites) for v in VERDICT_ORDER}
    parts = [f"{n} of {len(sites)} site{'s' if len(sites) != 1 else ''} {verdict_phrase(v)}"
             for v, n in counts.items() if n]
    worst = max((f["severity"] for f in data["findings"]), key=severity_rank, default=None)
    found = (f"{len(data['findings'])} finding{'s' if len(data['findings']) != 1 else ''}, the worst {worst}"
             if worst else "no findings")
    return "; ".join(parts) + f". {found[0].upper()}{found[1:]}."


def verdict_phrase(verdict: str) -> str:
    return {
        "outside the exemption": "outside the load-balancing consent exemption",
        "doubtful: short-lived persistence": "doubtful (short-lived persistence)",
        "within the exemption": "within the exemption",
        "no affinity cookie": "set no affinity cookie",
    }.get(verdict, verdict)


def sites_by_verdict(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-site table's rows, those that need action first."""
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    return sorted(data["sites"], key=lambda s: (order.get(s["exemption"]["verdict"], len(order)),
                                                -severity_rank(s["worst"]) if s["worst"] else 0, s["site"]))
