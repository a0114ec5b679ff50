"""Markdown, for tickets and pull requests. Every value from traffic is escaped."""

from __future__ import annotations

import re

from stickyguard.audit.findings import Report
from stickyguard.audit.report import common

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def esc(text: object) -> str:
    """Escape Markdown syntax and raw HTML in a value that came from a capture."""
    s = common.printable(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s).replace("\n", " ")


def render(report: Report) -> str:
    from tabulate import tabulate  # loaded by the formats that draw tables, not by every audit

    data = report.as_dict()
    out = [
        "# stickyguard cookie audit",
        "",
        f"{esc(common.summary_line(report))}. Generated {esc(data['generated_at'])} by "
        f"stickyguard {esc(data['tool']['version'])}.",
        "",
        "## Inputs",
        "",
        tabulate(
            [[esc(i["path"]), i["kind"], i["exchanges"], f"`{i['sha256'] or '-'}`"] for i in data["inputs"]],
            headers=["Input", "Kind", "Responses", "SHA-256"],
            tablefmt="github",
        ),
        "",
        "## Summary by site",
        "",
    ]
    if data["sites"]:
        out.append(tabulate(
            [[esc(x["site"]), f"{x['affinity_cookies']} of {x['cookies']}",
              esc(common.site_vendors(x)), x["findings"], x["worst"] or "-",
              esc(x["exemption"]["verdict"] + (": " + "; ".join(x["exemption"]["reasons"])
                                                if x["exemption"]["reasons"] else ""))]
             for x in data["sites"]],
            headers=["Site", "Affinity cookies", "Set by", "Findings", "Worst", "Load-balancing consent exemption"],
            tablefmt="github",
        ))
    else:
        out.append("No cookies were set in the inputs.")
    out += ["", "## IP exposure", ""]
    ip = data["ip_exposure"]
    out += [f"- Internal address {esc(a['address'])} in {esc(', '.join(a['seen_in']))}"
            for a in ip["internal_addresses"]] or ["- No cookie revealed an internal address."]
    out += [f"- {esc(a['class'].capitalize())} address {esc(a['address'])} in {esc(', '.join(a['seen_in']))}"
            for a in ip.get("other_addresses", [])]
    out += [f"- Client address stored in {esc(c)}" for c in ip["client_address_in_cookies"]]
    out += ["", "## Findings by site", ""]
    if not data["findings"]:
        out += ["No findings.", ""]
    by_site: dict[str, list[dict]] = {}
    for f in data["findings"]:
        by_site.setdefault(f["site"], []).append(f)
    for f in [f for group in by_site.values() for f in group]:
        if f is by_site[f["site"]][0]:
            out += [f"### {esc(f['site'])}", ""]
        out += [
            f"#### {esc(common.status_tag(f))}{esc(f['severity'].upper())} {esc(f['rule'])}: {esc(f['title'])}",
            "",
            f"- **Where:** {esc(f['host'])}, cookie {esc(f['cookie'])} "
            f"(first at {esc(common.where(f))}, {f['count']} time{'s' if f['count'] != 1 else ''})",
            f"- **Confidence:** {esc(f['confidence'])}; **CWE:** {esc(', '.join(f['cwe']) or '-')}",
        ]
        for line in common.evidence(f):
            out.append(f"- **Decoded:** {esc(line)}")
        out += ["", esc(f["message"]), "", "**Basis:**", ""]
        out += [f"- [{esc(b['ref'])}]({_url(b['url'])})" for b in f["basis"]]
        if f.get("vendor_fix"):
            out += ["", f"**Fix in {esc(f['vendor'])}:** {esc(f['vendor_fix'])}"]
        out += ["", f"**Fix:** {esc(f['remediation'])}", ""]
    out += ["## Cookie inventory", ""]
    if data["cookies"]:
        rows = [
            [
                esc(c["host"]),
                esc(c["name"]),
                esc(common.vendor(c)),
                "yes" if c["affinity"] else "no",
                esc(common.flags(c)),
                esc(common.lifetime(c)),
                c["party"],
                esc(common.decoded(c["decoded"])),
                esc(", ".join(c["rules"])),
            ]
            for c in data["cookies"]
        ]
        out.append(
            tabulate(
                rows,
                headers=["Host", "Cookie", "Set by", "Affinity", "Flags", "Lifetime", "Party",
                         "Decoded", "Rules"],
                tablefmt="github",
            )
        )
    else:
        out.append("No cookies were set in the inputs.")
    out.append("")
    if data.get("baseline", {}).get("fixed"):
        out += ["## Fixed since the baseline", ""]
        out += [f"- {esc(x['rule'])} {esc(x['host'])} {esc(x['cookie'])}: {esc(x['title'])}"
                for x in data["baseline"]["fixed"]]
        out.append("")
    if data["errors"]:
        out += ["## Input errors", ""]
        out += [f"- {esc(e['input'])}: {esc(e['place'])}: {esc(e['message'])}" for e in data["errors"]]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
