"""Load rule data from `rules/`: YAML with line numbers, validated against `rules/schema.json`.

Every problem in a rule file is reported as `file:line: where: what is wrong`, so a user who
writes or tunes a rule can fix it without reading Python.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import string
from pathlib import Path
from typing import Any

from stickyguard.audit import conditions
from stickyguard.audit.datafiles import CATALOG_FILE
from stickyguard.audit.datafiles import RULES_DIR
from stickyguard.audit.datafiles import RuleFileError
from stickyguard.audit.datafiles import line_of
from stickyguard.audit.datafiles import load_checked

# RULES_DIR and RuleFileError are part of what loading rules means to a caller.
__all__ = ["RULES_DIR", "Rule", "RuleFileError", "load_rules", "version"]

# Placeholders a rule message may use; anything else is a rule-file error.
MESSAGE_FIELDS = frozenset(
    {"cookie", "vendor", "host", "site", "url", "decoded", "lifetime", "domain", "samesite",
     "budget", "prefix_problems", "hash_advice", "lifetime_weight"}
)
# The hundreds a rule id must fall in, by what the rule is about.
FAMILIES = {1: "cookie attributes, scope and transport", 2: "leaked identifiers",
            3: "privacy: lifetime, consent and tracking", 4: "what a live probe shows", 9: "tool notices"}


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    name: str
    title: str
    severity: str
    confidence: str
    cwe: tuple[str, ...]
    basis: tuple[dict[str, str], ...]
    references: tuple[str, ...]
    peers: tuple[dict[str, str], ...]
    cookie: str
    conditions: tuple[tuple[str, Any], ...]
    message: str
    remediation: str
    examples: dict[str, list[dict[str, str]]]
    path: str
    fixes: tuple[tuple[str, str], ...] = ()  # (vendor id, fix in that product's configuration)
    tags: frozenset[str] = frozenset()  # personal-data, client-address: read by the compliance summary

    def describe(self) -> dict[str, Any]:
        """What reports say about a rule that ran."""
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "severity": self.severity,
            "confidence": self.confidence,
            "cwe": list(self.cwe),
            "basis": [dict(b) for b in self.basis],
            "references": list(self.references),
            "peers": [dict(p) for p in self.peers],
            "remediation": self.remediation,
            "fixes": dict(self.fixes),
        }


def rule_files(directory: Path) -> list[Path]:
    """Rule files of a rules folder: `checks/*.yaml`, or `*.yaml` when there is no checks/."""
    checks = directory / "checks"
    files = sorted(checks.glob("*.yaml")) if checks.is_dir() else sorted(directory.glob("*.yaml"))
    return [f for f in files if f.name != CATALOG_FILE]


def load_rule_file(path: Path) -> tuple[Rule | None, list[str]]:
    d, problems = load_checked(path, "rule", _check_semantics)
    if problems:
        return None, problems
    rule = Rule(
        id=d["id"],
        name=d["name"],
        title=d["title"],
        severity=d["severity"],
        confidence=d["confidence"],
        cwe=tuple(d["cwe"]),
        basis=tuple(d["basis"]),
        references=tuple(d["references"]),
        peers=tuple(d.get("peers", [])),
        tags=frozenset(d.get("tags", [])),
        cookie=d["match"]["cookie"],
        conditions=tuple(next(iter(c.items())) for c in d["match"]["all"]),
        message=" ".join(d["message"].split()),
        remediation=" ".join(d["remediation"].split()),
        examples=d["tests"],
        path=str(path),
        fixes=tuple((k, " ".join(v.split())) for k, v in d.get("fixes", {}).items()),
    )
    return rule, []


def _check_semantics(path: Path, data: Any) -> list[str]:
    """What the schema cannot say: file name, id family, message placeholders."""
    problems = []
    expected = f"{data['id']}-{data['name']}.yaml"
    if path.name != expected:
        problems.append(f"{path}:1: the file name should be {expected} (rule id and name)")
    family = int(data["id"][2])
    if family not in FAMILIES:
        known = ", ".join(f"SG{k}xx {v}" for k, v in FAMILIES.items())
        problems.append(f"{path}:{line_of(data, ['id'])}: id: {data['id']} is in no rule family ({known})")
    for field in ("message", "remediation"):
        try:
            parts = [(n, spec, conv) for _, n, spec, conv in string.Formatter().parse(data[field]) if n is not None]
        except ValueError as e:
            problems.append(f"{path}:{line_of(data, [field])}: {field}: {e}")
            continue
        names = {n for n, _, _ in parts}
        for name, spec, conv in parts:
            if spec or conv:  # `{cookie:>200000000}` would write a 400 MB report
                problems.append(f"{path}:{line_of(data, [field])}: {field}: {{{name}{'!' + conv if conv else ''}"
                                f"{':' + spec if spec else ''}}}: format specs and conversions are not allowed; "
                                f"write {{{name}}}")
        unknown = names - MESSAGE_FIELDS
        if unknown:
            problems.append(
                f"{path}:{line_of(data, [field])}: {field}: unknown placeholder "
                f"{{{sorted(unknown)[0]}}}; use one of {', '.join(sorted(MESSAGE_FIELDS))}"
            )
    unknown_ops = [op for c in data["match"]["all"] for op in c if op not in conditions.CONDITIONS]
    for op in unknown_ops:
        problems.append(f"{path}:{line_of(data, ['match'])}: match: no condition operator {op!r}")
    return problems


def version(rules: list[Rule]) -> str:
    """A short digest of the rule set's content: two reports with the same one judged alike."""
    content = json.dumps([r.describe() | {"match": [r.cookie, list(r.conditions)]} for r in rules], sort_keys=True)
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()[:16]


def load_rules(directories: list[Path], known_cookie_classes: set[str]) -> list[Rule]:
    """Rules of every folder, later folders replacing earlier rules with the same id.

    Raises RuleFileError listing every problem in every file.
    """
    by_id: dict[str, Rule] = {}
    problems: list[str] = []
    for directory in directories:
        seen_here: dict[str, str] = {}
        for path in rule_files(directory):
            rule, found = load_rule_file(path)
            problems += found
            if rule is None:
                continue
            if rule.id in seen_here:
                problems.append(f"{path}:1: id: {rule.id} is also used by {seen_here[rule.id]}")
                continue
            unknown_fix = next((v for v, _ in rule.fixes if v not in known_cookie_classes), None)
            if unknown_fix:
                problems.append(f"{path}:1: fixes: {unknown_fix!r} is not a vendor id of the catalog")
                continue
            if rule.cookie not in known_cookie_classes:
                problems.append(
                    f"{path}:1: match/cookie: {rule.cookie!r} is neither 'affinity', 'other', "
                    f"'any' nor a vendor id of the catalog"
                )
                continue
            seen_here[rule.id] = str(path)
            by_id[rule.id] = rule
    if problems:
        raise RuleFileError(problems)
    return sorted(by_id.values(), key=lambda r: r.id)
