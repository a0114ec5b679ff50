"""What a privacy or compliance officer reads first: per site, the affinity cookies by vendor, the
worst finding, and a verdict on the load-balancing consent exemption; then the IP exposure.

The exemption (ePrivacy Art. 5(3) as read by Article 29 WP Opinion 04/2012, CNIL 2020-091, ICO)
covers load-balancing cookies that are session cookies, first party and carry no personal data.
A site is "within" when every affinity cookie it sets meets all three, "outside" when one does
not (each reason is listed), "doubtful" when the only shortfall is a short persistent lifetime
(minutes or hours within the budget, not months), and "no affinity cookie" when it sets none (the
report then says what a capture cannot show). This is an assessment
aid, not legal advice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from stickyguard.audit import evidence
from stickyguard.audit.clock import human_duration
from stickyguard.audit.findings import SEVERITIES
from stickyguard.audit.findings import Finding
from stickyguard.audit.findings import severity_rank

# What a capture cannot show: affinity on the client's address leaves no trace in the cookies.
NO_COOKIE_NOTE = ("no affinity cookie was set, so any stickiness rests on something a capture cannot show "
                  "(the client's IP address at the balancer, or nothing): test it by sending fresh sessions "
                  "from several source addresses and comparing which backend answers")


def cookie_exemption(c: dict[str, Any], personal: set[tuple[str, str]], budget_seconds: int) -> dict[str, Any]:
    """Whether one affinity cookie may claim the exemption: {"verdict", "reasons"}, the verdict "doubtful" when
    its only shortfall is a persistent lifetime within the budget."""
    reasons, short_only = [], True
    seconds = c["lifetime_seconds"]
    if seconds:
        if seconds <= budget_seconds:
            reasons.append(f"{c['name']} persists for {human_duration(seconds)}: short, within the "
                           f"{human_duration(budget_seconds)} budget, but not a session cookie")
        else:
            short_only = False
            reasons.append(f"{c['name']} persists for {human_duration(seconds)}, far past the session")
    if c["party"] == "third":
        short_only = False
        reasons.append(f"{c['name']} is set in a third-party context")
    decoded = c["decoded"] or {}
    if (c["host"], c["name"]) in personal or decoded.get("email") or decoded.get("jwt_personal_claims"):
        short_only = False
        reasons.append(f"{c['name']} carries personal data")
    verdict = "within the exemption" if not reasons else (
        "doubtful: short-lived persistence" if short_only else "outside the exemption")
    return {"verdict": verdict, "reasons": reasons}


def mark_exemptions(cookies: list[dict[str, Any]], findings: list[Finding], personal_rules: set[str],
                    budget_seconds: int) -> None:
    """Each affinity cookie's row gets its own `exemption` (the cookie declaration reads it); others get None."""
    personal = {(f.host, f.cookie) for f in findings if f.rule in personal_rules}
    for c in cookies:
        live = c["affinity"] and c.get("expiry") != "deleted"
        c["exemption"] = cookie_exemption(c, personal, budget_seconds) if live else None


def sites(cookies: list[dict[str, Any]], findings: list[Finding]) -> list[dict[str, Any]]:
    """Per site: its affinity cookies and whether they may claim the consent exemption (from each cookie's
    own, set by mark_exemptions)."""
    by_site: dict[str, list[dict[str, Any]]] = {}
    for c in cookies:
        by_site.setdefault(c["site"], []).append(c)
    out = []
    for site, rows in sorted(by_site.items()):
        affinity = [c for c in rows if c.get("exemption")]
        reasons = [r for c in affinity for r in c["exemption"]["reasons"]]
        short_only = all(c["exemption"]["verdict"] != "outside the exemption" for c in affinity)
        reasons = list(dict.fromkeys(reasons))
        if not affinity:
            verdict, reasons = "no affinity cookie", [NO_COOKIE_NOTE]
        elif not reasons:
            verdict = "within the exemption"
        else:
            verdict = "doubtful: short-lived persistence" if short_only else "outside the exemption"
        site_findings = [f for f in findings if f.site == site]
        worst = max((f.severity for f in site_findings), key=severity_rank) if site_findings else None
        out.append({
            "site": site,
            "hosts": sorted({c["host"] for c in rows}),
            "cookies": len({(c["host"], c["name"]) for c in rows}),
            "affinity_cookies": len({(c["host"], c["name"]) for c in affinity}),
            "vendors": dict(sorted(Counter(_by_vendor(affinity)).items())),
            "findings": len(site_findings),
            "worst": worst,
            "exemption": {"verdict": verdict, "reasons": reasons},
        })
    return out


def _by_vendor(rows: list[dict[str, Any]]) -> list[str]:
    """The vendor of each distinct host, cookie name and vendor (a cookie has one row per backend, and two
    balancers may share a name behind one host)."""
    return [v for _, _, v in dict.fromkeys((c["host"], c["name"], c["vendor_name"] or "unidentified") for c in rows)]


def ip_exposure(cookies: list[dict[str, Any]], findings: list[Finding],
                client_address_rules: set[str]) -> dict[str, Any]:
    """Every address the cookies reveal (internal ones apart from the rest: public origins, documentation
    and reserved blocks), and cookies that store the client's address."""
    internal: dict[str, list[str]] = {}
    other: dict[tuple[str, str], list[str]] = {}
    for c in cookies:
        d = c["decoded"] or {}
        klass = d.get("address_class")
        if klass in evidence.INTERNAL_CLASSES:
            internal.setdefault(evidence.address(d), []).append(f"{c['host']} {c['name']}")
        elif klass:
            other.setdefault((evidence.address(d), klass), []).append(f"{c['host']} {c['name']}")
    return {
        "internal_addresses": [{"address": a, "seen_in": sorted(set(w))} for a, w in sorted(internal.items())],
        "other_addresses": [{"address": a, "class": k, "seen_in": sorted(set(w))}
                            for (a, k), w in sorted(other.items())],
        "client_address_in_cookies": sorted({f"{f.host} {f.cookie}" for f in findings
                                             if f.rule in client_address_rules}),
    }


def charts(cookies: list[dict[str, Any]], findings: list[Finding]) -> dict[str, dict[str, int]]:
    """The numbers the report draws: findings by severity, affinity cookies by vendor."""
    return {
        "findings_by_severity": {s: sum(f.severity == s for f in findings) for s in reversed(SEVERITIES)},
        "affinity_cookies_by_vendor": dict(Counter(_by_vendor([c for c in cookies if c["affinity"]])).most_common()),
    }
