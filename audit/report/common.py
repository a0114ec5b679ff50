"""Small wordings every report format shares, so they say the same thing the same way."""

from __future__ import annotations

import re
from typing import Any

from stickyguard.audit.clock import human_duration
from stickyguard.audit.evidence import describe
from stickyguard.audit.findings import SEVERITIES
from stickyguard.audit.findings import Report
from stickyguard.audit.records import map_strings

# Characters that act on a terminal or split a Markdown row instead of showing: C0 controls but the
# newline, DEL, C1 controls (ESC sequences, CSI), CR, the line and paragraph separators, and the bidi
# overrides that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """The text with every character in _UNPRINTABLE shown as an escape (`\\x1b`, `\\u2028`)."""
    if text.isprintable():
        return text
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", text)


def printable_data(data: Any) -> Any:
    """printable() over every string of a report's data, for the formats read on a terminal."""
    return map_strings(data, printable)


def summary_line(report: Report) -> str:
    counts = report.summary()
    parts = [f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]]
    found = f"{len(report.findings)} findings" + (f" ({', '.join(parts)})" if parts else "")
    inputs = len(report.inputs)
    text = (
        f"{inputs} input{'s' if inputs != 1 else ''}, {len(report.cookies)} cookies, {found}"
    )
    if report.errors:
        text += f", {len(report.errors)} input error{'s' if len(report.errors) != 1 else ''}"
    if report.baseline is not None:
        b = report.baseline
        text += f"; against {b['path']}: {b['new']} new, {b['unchanged']} unchanged, {len(b['fixed'])} fixed"
    return text


def status_tag(finding: dict[str, Any]) -> str:
    """`[new] ` or `[unchanged] ` when the report was compared with a baseline."""
    return f"[{finding['status']}] " if finding.get("status") else ""


def flags(cookie: dict[str, Any]) -> str:
    a = cookie["attributes"]
    out = []
    if a["secure"]:
        out.append("Secure")
    if a["httponly"]:
        out.append("HttpOnly")
    out.append(f"SameSite={a['samesite']}" if a["samesite"] else "no SameSite")
    if a["partitioned"]:
        out.append("Partitioned")
    if a["domain"]:
        out.append(f"Domain={a['domain']}")
    return ", ".join(out)


# What a vendor attribution rested on, where it was more than the cookie's name.
_RESTED_ON = {"value": " (by its value)", "name and value": " (by name and value)"}


def vendor(cookie: dict[str, Any]) -> str:
    if cookie["vendor_name"]:
        return cookie["vendor_name"] + _RESTED_ON.get(cookie.get("classified_by") or "", "")
    if cookie["affinity"]:
        return "affinity (by name)"
    return "-"


def lifetime(cookie: dict[str, Any]) -> str:
    expiry = cookie.get("expiry")
    if expiry:
        text = "expired at capture" if expiry == "expired" else "deleted"
        if cookie.get("lifetime_from") == "audit time":
            text += " (no date in the input: judged at the audit's time)"
        return text
    requested = cookie["lifetime_seconds"]
    effective = cookie["effective_lifetime_seconds"]
    text = human_duration(requested)
    if requested is not None and effective != requested:
        text = f"{text} (capped to {human_duration(effective)})"
    if requested is not None and cookie.get("lifetime_from") == "audit time":
        text += " (from Expires, judged at the audit's time: the input has no date)"
    return text


def decoded(cookie_or_evidence: dict[str, Any] | None) -> str:
    if not cookie_or_evidence:
        return ""
    return describe(cookie_or_evidence)


def evidence(finding: dict[str, Any]) -> list[str]:
    return [e["summary"] for e in finding["evidence"] if e.get("summary")]


def site_vendors(site: dict[str, Any]) -> str:
    """A site's affinity cookies by vendor: `F5 BIG-IP LTM (2), HAProxy (1)`."""
    return ", ".join(f"{v} ({n})" for v, n in site["vendors"].items()) or "-"


def probe_lines(probe: dict[str, Any]) -> list[str]:
    """What `stickyguard probe` measured, a line each (the table and Markdown reports show these)."""
    m = probe["mechanism"]
    lines = [f"Probed {probe['url']}: {probe['requests']} requests, {probe['failed']} without an answer",
             "Backends told apart by: " + (probe["backend_signal"] or "nothing (the probe cannot tell backends apart)"),
             f"Mechanism: {m['kind']} ({m['confidence']} confidence)"
             + (f", cookie {m['cookie']}" if m["cookie"] else "") + (f", {m['vendor']}" if m["vendor"] else "")]
    lines += [f"  - {e}" for e in m["evidence"]]
    if probe["stickiness"] is not None:
        lines.append(f"Stickiness: {probe['stickiness']:.0%} of returning requests stayed on their backend")
    if probe["sessions_per_backend"]:
        per = ", ".join(f"{b} {n}" for b, n in probe["sessions_per_backend"].items())
        lines.append(f"Spread: {per}; max/mean {probe['max_over_mean']:.2f}; Jain's fairness index {probe['jain']:.2f}")
    for source, backends in probe["by_source"].items():
        if source != "default":
            lines.append(f"From {source}: " + ", ".join(f"{b} {n}" for b, n in backends.items()))
    for t in probe["tamper"]:
        aim = f" (names {t['target']})" if t["target"] else ""
        lines.append(f"Tamper, {t['variant']}{aim}: answered by {', '.join(b or '?' for b in t['landed'])}"
                     + (": the client chose its backend" if t["steered"] else ""))
    if probe["tamper"]:
        lines.append("Steerable: " + ("yes, a client can send itself to a backend of its choice (SG401)"
                                      if probe["steerable"] else "no"))
    return lines


def where(finding: dict[str, Any]) -> str:
    return f"{finding['source']}: {finding['place']}"
