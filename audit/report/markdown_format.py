"""Markdown, for tickets and pull requests. Every value from traffic is escaped."""

from __future__ import annotations

import re

from stickyguard.audit.findings import Report
from stickyguard.audit.report import common
from stickyguard.audit.report import grouping

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def esc(text: object) -> str:
    """Escape Markdown syntax and raw HTML in a value that came from a capture."""
    s = common.printable(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s).replace("\n", " ")


def render(report: Report) -> str:
    from tabulate import tabulate  # loaded by the formats that draw tables, not by every audit

    data = report.as_dict()
    groups = grouping.rule_groups(data)
    names = grouping.vendor_names(data)
    out = ["# stickyguard cookie audit", ""]
    out += [f"- **{k}:** {v}" for k, v in _scope(data)]
    out += ["", f"**Verdict:** {esc(grouping.overall_verdict(data))}", ""]
    if data.get("probe"):
        out += ["## The probe", ""]
        out += [f"- {esc(line.strip().lstrip('- '))}" for line in common.probe_lines(data["probe"])]
        out.append("")
    out += ["## Verdict by site", ""]
    if data["sites"]:
        out.append(tabulate(
            [[esc(x["site"]), f"{x['affinity_cookies']} of {x['cookies']}",
              esc(common.site_vendors(x)), x["findings"], x["worst"] or "-",
              esc(x["exemption"]["verdict"] + (": " + "; ".join(x["exemption"]["reasons"])
                                                if x["exemption"]["reasons"] else ""))]
             for x in grouping.sites_by_verdict(data)],
            headers=["Site", "Affinity cookies", "Set by", "Findings", "Worst", "Load-balancing consent exemption"],
            tablefmt="github",
        ))
    else:
        out.append("No cookies were set in the inputs.")
    out += ["", "## Findings by rule", ""]
    if not groups:
        out += ["No findings.", ""]
    for g in groups:
        rule = g.rule
        out += [
            f"### {esc(rule['severity'].upper())} {esc(rule['id'])}: {esc(rule['title'])}",
            "",
            f"{len(g.findings)} cookie{'s' if len(g.findings) != 1 else ''} on {len(g.hosts)} "
            f"host{'s' if len(g.hosts) != 1 else ''}; confidence {esc(rule['confidence'])}; "
            f"CWE {esc(', '.join(rule['cwe']) or '-')}",
            "",
            tabulate([[esc(f["host"]), esc(common.status_tag(f) + f["cookie"]),
                       esc(grouping.vendor_name(f.get("vendor"), names)), esc(_what(f)), f["count"],
                       esc(common.where(f))] for f in g.findings],
                     headers=["Host", "Cookie", "Set by", "What was found", "Seen", "First seen"], tablefmt="github"),
            "",
            "**Basis:**",
            "",
        ]
        out += [f"- [{esc(b['ref'])}]({_url(b['url'])})" for b in rule["basis"]]
        out.append("")
        out += [f"**Fix in {esc(vendor)}:** {prose(fix)}" + "\n" for vendor, fix in g.vendor_fixes]
        if g.generic_fix:
            out += [f"**{'Fix for the other cookies' if g.vendor_fixes else 'Fix'}:** {prose(rule['remediation'])}",
                    ""]
        peers = ", ".join(f"{esc(p['scanner'])} {esc(p['id'])}" for p in rule.get("peers", []))
        if peers:
            out += [f"Peer scanners that check the same: {peers}", ""]
    out += ["## IP exposure", ""]
    ip = data["ip_exposure"]
    out += [f"- Internal address {esc(a['address'])} in {esc(', '.join(a['seen_in']))}"
            for a in ip["internal_addresses"]] or ["- No cookie revealed an internal address."]
    out += [f"- {esc(a['class'].capitalize())} address {esc(a['address'])} in {esc(', '.join(a['seen_in']))}"
            for a in ip.get("other_addresses", [])]
    out += [f"- Client address stored in {esc(c)}" for c in ip["client_address_in_cookies"]]
    out += ["", "## Cookie inventory", ""]
    if not data["cookies"]:
        out += ["No cookies were set in the inputs.", ""]
    verdicts = {s["site"]: s["exemption"]["verdict"] for s in data["sites"]}
    for site, cookies in grouping.cookies_by_site(data):
        out += [f"### {esc(site)} ({esc(verdicts.get(site, '-'))})", ""]
        rows = [[esc(c["host"]), esc(c["name"]), esc(common.vendor(c)), "yes" if c["affinity"] else "no",
                 esc(common.flags(c)), esc(common.lifetime(c)), c["party"], esc(common.decoded(c["decoded"])),
                 esc(", ".join(c["rules"]))] for c in cookies]
        out += [tabulate(rows, headers=["Host", "Cookie", "Set by", "Affinity", "Flags", "Lifetime", "Party",
                                        "Decoded", "Rules"], tablefmt="github"), ""]
    if data.get("baseline", {}).get("fixed"):
        out += ["## Fixed since the baseline", ""]
        out += [f"- {esc(x['rule'])} {esc(x['host'])} {esc(x['cookie'])}: {esc(x['title'])}"
                for x in data["baseline"]["fixed"]]
        out.append("")
    if data["errors"]:
        out += ["## Input errors", ""]
        out += [f"- {esc(e['input'])}: {esc(e['place'])}: {esc(e['message'])}" for e in data["errors"]]
        out.append("")
    out += ["## Provenance", ""]
    out.append(tabulate(
        [[esc(i["path"]), i["kind"], i["exchanges"], f"`{i['sha256'] or '-'}`"] for i in data["inputs"]],
        headers=["Input", "Kind", "Responses", "SHA-256"], tablefmt="github"))
    return "\n".join(out).rstrip("\n") + "\n"


def _scope(data: dict) -> list[tuple[str, str]]:
    rows = [(label, esc(text)) for label, text in grouping.scope(data)]
    return rows + [("Rule set", f"`{data['tool'].get('rules', 'built-in')}` ({len(data['rules'])} rules)")]


def _what(finding: dict) -> str:
    more = common.evidence(finding)[1:]
    return finding["message"] + (f" Also decoded: {'; '.join(more)}" if more else "")


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def prose(text: str) -> str:
    """Rule text as written in the rule files: escaped, with its `code` kept as code spans (inside which
    Markdown shows every character as it is, so they are left unescaped)."""
    out, last = [], 0
    for m in _CODE_SPAN.finditer(text):
        out += [esc(text[last:m.start()]), "`" + common.printable(m.group(1)) + "`"]
        last = m.end()
    return "".join(out) + esc(text[last:])


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
