"""SARIF 2.1.0, for GitHub code scanning and other SARIF consumers.

One driver rule per rule that ran, with CWE tags and a `security-severity` score (GitHub's
severity scale); one result per finding, located in the capture it came from.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from stickyguard.audit.findings import Report
from stickyguard.audit.report import common

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub reads `security-severity` as: >=9 critical, >=7 high, >=4 medium, >0 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
_LINE = re.compile(r"^line (\d+)$")


def render(report: Report) -> str:
    data = report.as_dict()
    rules = data["rules"]
    index = {r["id"]: i for i, r in enumerate(rules)}
    run = {
        "tool": {
            "driver": {
                "name": "stickyguard",
                "version": data["tool"]["version"],
                "rules": [_rule(r) for r in rules],
            }
        },
        "invocations": [
            {
                "executionSuccessful": not data["errors"],
                "toolExecutionNotifications": [
                    {
                        "level": "error",
                        "message": {"text": f"{e['input']}: {e['place']}: {e['message']}"},
                        "locations": [_location(e["input"], e["place"])],
                    }
                    for e in data["errors"]
                ],
            }
        ],
        "artifacts": [
            {"location": {"uri": _uri(i["path"])}, **({"hashes": {"sha-256": i["sha256"]}} if i["sha256"] else {})}
            for i in data["inputs"]
        ],
        "results": [_result(f, index) for f in data["findings"]],
        "properties": {"generatedAt": data["generated_at"], "cookies": len(data["cookies"])},
    }
    sarif = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(sarif, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _rule(r: dict) -> dict:
    tags = ["security", "privacy", *(f"external/cwe/{c.lower()}" for c in r["cwe"])]
    basis = "\n".join(f"- [{b['ref']}]({b['url']})" for b in r["basis"])
    return {
        "id": r["id"],
        "name": "".join(w.capitalize() for w in r["name"].split("-")),
        "shortDescription": {"text": r["title"]},
        "fullDescription": {"text": r["title"] + ". Basis: " + "; ".join(b["ref"] for b in r["basis"])},
        "help": {
            "text": r["remediation"],
            "markdown": f"{r['remediation']}\n\n**Basis**\n\n{basis}",
        },
        "helpUri": r["references"][0],
        "defaultConfiguration": {"level": LEVELS[r["severity"]]},
        "properties": {
            "tags": tags,
            "precision": {"high": "high", "medium": "medium", "low": "low"}[r["confidence"]],
            "security-severity": SECURITY_SEVERITY[r["severity"]],
            "severity": r["severity"],
        },
    }


def _result(f: dict, index: dict[str, int]) -> dict:
    text = f["message"]
    for line in common.evidence(f):
        text += f" Decoded: {line}."
    return {
        "ruleId": f["rule"],
        "ruleIndex": index[f["rule"]],
        "level": LEVELS[f["severity"]],
        "message": {"text": text},
        "locations": [
            {
                **_location(f["source"], f["place"]),
                "logicalLocations": [
                    {"name": f["cookie"], "fullyQualifiedName": f"{f['host']}/{f['cookie']}", "kind": "resource"}
                ],
            }
        ],
        "partialFingerprints": {"stickyguardFinding/v1": f["fingerprint"]},
        "properties": {
            "severity": f["severity"],
            "confidence": f["confidence"],
            "host": f["host"],
            "site": f["site"],
            "cookie": f["cookie"],
            "vendor": f["vendor"],
            "url": f["url"],
            "place": f["place"],
            "count": f["count"],
            "evidence": f["evidence"],
            "basis": f["basis"],
        },
    }


def _location(source: str, place: str) -> dict:
    m = _LINE.match(place)
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(source)},
            "region": {"startLine": int(m.group(1)) if m else 1},
        }
    }


def _uri(path: str) -> str:
    """A relative URI reference (SARIF 3.10): the path with every character a URI may not hold percent-encoded."""
    if path == "<stdin>":
        return "stdin"
    return quote(path.replace("\\", "/"), safe="/:@!$&'()*+,;=-._~", errors="backslashreplace")
