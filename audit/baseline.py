"""Compare a report with an earlier JSON report: each finding is new or unchanged, and what the
earlier report had that this one has not is fixed. Findings match by fingerprint (rule,
registrable domain and cookie name), so a finding that moved between hosts of a site is the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stickyguard.audit import limits
from stickyguard.audit.findings import Report


class BaselineError(ValueError):
    pass


def load(path: str) -> dict[str, dict[str, Any]]:
    """fingerprint -> finding of an earlier `--format json` report."""
    try:
        doc = limits.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise BaselineError(f"{path}: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BaselineError(f"{path}: not a JSON report ({e})") from None
    findings = doc.get("findings") if isinstance(doc, dict) else None
    if not isinstance(findings, list) or not all(isinstance(f, dict) and "fingerprint" in f for f in findings):
        raise BaselineError(f"{path}: not a stickyguard JSON report (no findings with fingerprints)")
    for i, f in enumerate(findings):
        wrong = [key for key in _KEPT if not isinstance(f.get(key), str)]
        if wrong:
            raise BaselineError(f"{path}: findings[{i}]: {wrong[0]} is not a string, as a stickyguard JSON report "
                                "has it")
    return {f["fingerprint"]: f for f in findings}


# What apply() copies from an earlier finding into the list of fixed ones.
_KEPT = ("rule", "title", "severity", "host", "cookie", "fingerprint")


def apply(report: Report, earlier: dict[str, dict[str, Any]], path: str) -> None:
    """Mark the report's findings and list what was fixed since the earlier report."""
    now = set()
    for finding in report.findings:
        now.add(finding.fingerprint)
        finding.status = "unchanged" if finding.fingerprint in earlier else "new"
    fixed = [
        {key: f.get(key) for key in _KEPT}
        for fp, f in sorted(earlier.items()) if fp not in now
    ]
    report.baseline = {
        "path": path,
        "new": sum(f.status == "new" for f in report.findings),
        "unchanged": sum(f.status == "unchanged" for f in report.findings),
        "fixed": fixed,
    }
