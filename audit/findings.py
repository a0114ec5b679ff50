"""Finding and Report records, the severity ranking, and fingerprints.

Every report format consumes `Report.as_dict()`, so the formats cannot disagree about content.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from stickyguard.audit.records import InputError

SEVERITIES = ("info", "low", "medium", "high", "critical")
CONFIDENCES = ("low", "medium", "high")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclasses.dataclass
class Finding:
    """One rule that fired for one cookie on one host, with every instance folded in."""

    rule: str
    name: str
    title: str
    severity: str
    confidence: str
    cwe: list[str]
    basis: list[dict[str, str]]
    references: list[str]
    host: str
    site: str
    cookie: str
    vendor: str | None
    message: str
    remediation: str
    url: str
    source: str
    place: str
    evidence: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    count: int = 1
    vendor_fix: str | None = None  # the fix in the identified product's configuration, where the rule has one
    status: str | None = None  # against a baseline: "new" or "unchanged"

    @property
    def fingerprint(self) -> str:
        """Stable across runs and captures: rule, registrable domain and cookie name."""
        key = f"{self.rule}\x00{self.site}\x00{self.cookie}"
        return hashlib.sha256(key.encode()).hexdigest()

    def sort_key(self) -> tuple:
        return (-severity_rank(self.severity), self.rule, self.host, self.cookie)

    def as_dict(self) -> dict[str, Any]:
        # Shallow (dataclasses.asdict deep-copies every list and dict): the formats only read it.
        d = {name: getattr(self, name) for name in _FINDING_FIELDS}
        d["fingerprint"] = self.fingerprint
        if self.status is None:
            del d["status"]
        return d


_FINDING_FIELDS = tuple(f.name for f in dataclasses.fields(Finding))


@dataclasses.dataclass
class Report:
    """Everything a report format renders. Built by the engine; formats never add facts."""

    tool: dict[str, str]
    generated_at: str
    inputs: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    cookies: list[dict[str, Any]]
    findings: list[Finding]
    errors: list[InputError]
    show_values: bool = False
    baseline: dict[str, Any] | None = None  # set by audit.baseline.apply
    probe: dict[str, Any] | None = None  # what `stickyguard probe` measured (audit/probe/command.py)
    # The compliance summary (audit/compliance.py), computed once by the engine.
    sites: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    ip_exposure: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"internal_addresses": [], "other_addresses": [], "client_address_in_cookies": []})
    charts: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"findings_by_severity": {}, "affinity_cookies_by_vendor": {}})

    def summary(self) -> dict[str, int]:
        counts = {s: 0 for s in SEVERITIES}
        for f in self.findings:
            counts[f.severity] += 1
        return counts

    def worst(self) -> str | None:
        """The highest severity among the gating findings."""
        gating = self.gating()
        if not gating:
            return None
        return max((f.severity for f in gating), key=severity_rank)

    def gating(self) -> list[Finding]:
        """The findings that decide the exit status: with a baseline, only the new ones."""
        if self.baseline is None:
            return self.findings
        return [f for f in self.findings if f.status == "new"]

    def as_dict(self) -> dict[str, Any]:
        doc = {
            "tool": self.tool,
            "generated_at": self.generated_at,
            "inputs": self.inputs,
            "rules": self.rules,
            "summary": self.summary(),
            "sites": self.sites,
            "ip_exposure": self.ip_exposure,
            "charts": self.charts,
            "cookies": self.cookies,
            "findings": [f.as_dict() for f in self.findings],
            "errors": [e.as_dict() for e in self.errors],
        }
        if self.baseline is not None:
            doc["baseline"] = self.baseline
        if self.probe is not None:
            doc["probe"] = self.probe
        return doc
