"""Load rule data from `rules/`: YAML with line numbers, validated against `rules/schema.json`.

Every problem in a rule file is reported as `file:line: where: what is wrong`, so a user who
writes or tunes a rule can fix it without reading Python.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import string
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema import FormatChecker
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from stickyguard.audit import conditions


def _default_rules_dir() -> Path:
    """Rules ship inside the wheel as audit/rules_data; a checkout keeps them in rules/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules_data", here.parent / "rules"):
        if (candidate / "schema.json").is_file():
            return candidate
    raise RuntimeError(f"stickyguard's rules/ folder is missing next to {here}")


RULES_DIR = _default_rules_dir()
CATALOG_FILE = "affinity-cookies.yaml"

# Placeholders a rule message may use; anything else is a rule-file error.
MESSAGE_FIELDS = frozenset(
    {"cookie", "vendor", "host", "site", "url", "decoded", "lifetime", "domain", "samesite",
     "budget", "prefix_problems"}
)
# The hundreds a rule id must fall in, by what the rule is about.
FAMILIES = {1: "cookie attributes, scope and transport", 2: "leaked identifiers",
            3: "privacy: lifetime, consent and tracking", 9: "tool notices"}
# The one hint a schema message lacks: what to write.
HINTS = {
    "basis": "cite the RFC section, law or regulator text this finding touches",
    "references": "give at least one https:// URL with more on the problem",
    "tests": "add examples that must match and must not match",
    "cwe": "name the CWE, e.g. [CWE-614]",
}


class RuleFileError(Exception):
    """One or more rule files are invalid; `problems` are `file:line: message` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@functools.cache
def schema() -> dict[str, Any]:
    data = json.loads((RULES_DIR / "schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(data)
    return data


@functools.cache
def _validator(defname: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"#/$defs/{defname}", "$defs": schema()["$defs"]},
        format_checker=FormatChecker(),
    )


def load_yaml(path: Path) -> tuple[Any, list[str]]:
    """Round-trip load, which keeps line numbers; a syntax error becomes a problem line."""
    yaml = YAML(typ="rt")
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.load(f), []
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        return None, [f"{path}:{line}: YAML syntax: {e.problem or e.context}"]
    except (OSError, UnicodeDecodeError) as e:
        return None, [f"{path}:1: cannot read: {e}"]


def validate(path: Path, data: Any, defname: str) -> list[str]:
    """Schema problems of one document, each with the line it is on, sorted by line."""
    if data is None:
        return [f"{path}:1: the file is empty"]
    found = []
    for error in _validator(defname).iter_errors(data):
        line = line_of(data, list(error.absolute_path))
        where = "/".join(str(p) for p in error.absolute_path) or "top level"
        message = error.message
        if error.validator == "required":
            missing = message.split("'")[1] if "'" in message else ""
            if missing in HINTS:
                message += f" ({HINTS[missing]})"
        found.append((line, f"{path}:{line}: {where}: {message}"))
    return [text for _, text in sorted(found)]


def line_of(doc: Any, path: list) -> int:
    """1-based line of the deepest node on `path` that carries a position."""
    line = getattr(getattr(doc, "lc", None), "line", 0)
    node = doc
    for key in path:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(key, str):
                line = lc.key(key)[0]
            elif lc is not None:
                line = lc.item(key)[0]
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line + 1


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


def plain(data: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists."""
    if isinstance(data, dict):
        return {str(k): plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data


def rule_files(directory: Path) -> list[Path]:
    """Rule files of a rules folder: `checks/*.yaml`, or `*.yaml` when there is no checks/."""
    checks = directory / "checks"
    files = sorted(checks.glob("*.yaml")) if checks.is_dir() else sorted(directory.glob("*.yaml"))
    return [f for f in files if f.name != CATALOG_FILE]


def load_rule_file(path: Path) -> tuple[Rule | None, list[str]]:
    data, problems = load_yaml(path)
    if problems:
        return None, problems
    problems = validate(path, data, "rule")
    if problems:
        return None, problems
    problems += _check_semantics(path, data)
    if problems:
        return None, problems
    d = plain(data)
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
            names = {n for _, n, _, _ in string.Formatter().parse(data[field]) if n is not None}
        except ValueError as e:
            problems.append(f"{path}:{line_of(data, [field])}: {field}: {e}")
            continue
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
