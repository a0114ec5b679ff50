"""One self-contained HTML file: no scripts, no external assets, every value escaped.

Hosts, cookie names, URLs and decoded values all come from traffic an attacker may control,
so nothing reaches the page without html.escape.
"""

from __future__ import annotations

import html
from string import Template
from typing import Any

from stickyguard.audit.findings import SEVERITIES
from stickyguard.audit.findings import Report
from stickyguard.audit.report import common

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stickyguard cookie audit</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
code { font-size: 12px; word-break: break-all; }
.finding { border: 1px solid #ddd; border-left-width: 6px; padding: .4rem 1rem; margin: 1rem 0; }
.sev-critical { border-left-color: #6d0000; } .sev-high { border-left-color: #c0392b; }
.sev-medium { border-left-color: #e67e22; } .sev-low { border-left-color: #2980b9; }
.sev-info { border-left-color: #7f8c8d; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; color: #fff; font-size: 12px; }
.b-critical { background: #6d0000; } .b-high { background: #c0392b; } .b-medium { background: #e67e22; }
.b-low { background: #2980b9; } .b-info { background: #7f8c8d; }
.decoded { font-weight: 600; }
.errors li { color: #a00; }
.scroll { overflow-x: auto; }
.verdict-within { color: #1e7b34; font-weight: 600; } .verdict-outside { color: #b03a2e; font-weight: 600; }
.verdict-doubtful { color: #8a5a00; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
.charts figure { margin: 0; flex: 1 1 20rem; }
@media (max-width: 40rem) {
  body { margin: 1rem auto; font-size: 14px; } th, td { padding: .2rem .3rem; }
  table.stack tr:first-child { display: none; }
  table.stack tr { display: block; border: 1px solid #ddd; margin-bottom: .6rem; }
  table.stack td { display: block; border: none; }
  table.stack td::before { content: attr(data-label) ": "; font-weight: 600; }
}
@media print { .finding { break-inside: avoid; } details { display: block; } }
</style>
</head>
<body>
<h1>stickyguard cookie audit</h1>
<p>$summary</p>
<h2>Summary by site</h2>
$sites
<table><tr>$severity_heads</tr><tr>$severity_counts</tr></table>
<div class="charts">$charts</div>
<h2>IP exposure</h2>
$ip_exposure
<h2>Findings by site</h2>
$findings
<h2>Cookie inventory</h2>
<div class="scroll">$cookies</div>
$errors
<h2>Provenance</h2>
<p>Generated $generated_at by stickyguard $version with rule set $rules_version.</p>
<div class="scroll"><table><tr><th>Input</th><th>Kind</th><th>Responses</th><th>SHA-256</th></tr>
$inputs</table></div>
<p><small>Not legal advice: the consent exemptions are national transpositions of Directive
2002/58/EC, and regulators differ in detail. Cookie values are omitted unless the report was
made with --show-values.</small></p>
</body>
</html>
""")


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render(report: Report) -> str:
    data = report.as_dict()
    counts = report.summary()
    severities = list(reversed(SEVERITIES))
    return PAGE.substitute(
        summary=e(common.summary_line(report)),
        generated_at=e(data["generated_at"]),
        version=e(data["tool"]["version"]),
        inputs="".join(
            f"<tr><td>{e(i['path'])}</td><td>{e(i['kind'])}</td><td>{e(i['exchanges'])}</td>"
            f"<td><code>{e(i['sha256'] or '-')}</code></td></tr>\n"
            for i in data["inputs"]
        ),
        severity_heads="".join(f"<th>{e(s)}</th>" for s in severities),
        severity_counts="".join(f"<td>{e(counts[s])}</td>" for s in severities),
        findings=_findings_by_site(data) or "<p>No findings.</p>",
        sites=_sites(data["sites"]),
        charts=_bar_chart("Findings by severity", data["charts"]["findings_by_severity"], SEVERITY_COLOURS)
        + _bar_chart("Affinity cookies by vendor", data["charts"]["affinity_cookies_by_vendor"], {}),
        ip_exposure=_ip_exposure(data["ip_exposure"]),
        rules_version=e(data["tool"].get("rules", "built-in")),
        cookies=_cookies(data["cookies"]),
        errors=_fixed(data.get("baseline")) + _errors(data["errors"]),
    )


SEVERITY_COLOURS = {"critical": "#6d0000", "high": "#c0392b", "medium": "#e67e22", "low": "#2980b9", "info": "#7f8c8d"}


_SITE_HEADS = ("Site", "Hosts", "Affinity cookies", "Set by", "Findings", "Worst", "Load-balancing consent exemption")


def _sites(sites: list[dict[str, Any]]) -> str:
    if not sites:
        return "<p>No cookies were set in the inputs.</p>"
    rows = []
    for s in sites:
        verdict = s["exemption"]["verdict"]
        klass = {"within the exemption": "verdict-within", "outside the exemption": "verdict-outside",
                 "doubtful: short-lived persistence": "verdict-doubtful"}.get(verdict, "")
        reasons = "".join(f"<li>{e(r)}</li>" for r in s["exemption"]["reasons"])
        vendors = e(common.site_vendors(s))
        cells = [e(s["site"]), e(", ".join(s["hosts"])), f"{s['affinity_cookies']} of {s['cookies']}", vendors,
                 str(s["findings"]), e(s["worst"] or "-"),
                 f'<span class="{klass}">{e(verdict)}</span>{f"<ul>{reasons}</ul>" if reasons else ""}']
        tds = "".join(f'<td data-label="{h}">{c}</td>' for h, c in zip(_SITE_HEADS, cells, strict=True))
        rows.append(f"<tr>{tds}</tr>\n")
    head = "".join(f"<th>{h}</th>" for h in _SITE_HEADS)
    return f'<table class="stack"><tr>{head}</tr>\n{"".join(rows)}</table>'


def _bar_chart(title: str, values: dict[str, int], colours: dict[str, str]) -> str:
    """A horizontal bar chart as inline SVG: readable without scripts, prints as drawn."""
    items = list(values.items())
    if not items:
        return ""
    top = max(max(v for _, v in items), 1)
    row, label_w, bar_w = 24, 240, 200
    bars = []
    for i, (label, value) in enumerate(items):
        y = i * row
        width = round(bar_w * value / top)
        colour = colours.get(label, "#5d6d7e")
        bars.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12">{e(label[:30])}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{width}" height="16" fill="{colour}"/>'
            f'<text x="{label_w + width + 4}" y="{y + 16}" font-size="12">{value}</text>'
        )
    height = row * len(items)
    return (
        f'<figure><figcaption><strong>{e(title)}</strong></figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{e(title)}" '
        f'viewBox="0 0 {label_w + bar_w + 40} {height}" width="100%" style="max-width:30rem">'
        f'{"".join(bars)}</svg></figure>'
    )


def _ip_exposure(ip: dict[str, Any]) -> str:
    parts = []
    if ip["internal_addresses"]:
        items = "".join(f"<li><code>{e(a['address'])}</code> in {e(', '.join(a['seen_in']))}</li>"
                        for a in ip["internal_addresses"])
        parts.append(f"<p>Internal addresses the cookies reveal:</p><ul>{items}</ul>")
    else:
        parts.append("<p>No cookie revealed an internal address.</p>")
    if ip.get("other_addresses"):
        items = "".join(f"<li><code>{e(a['address'])}</code> ({e(a['class'])}) in {e(', '.join(a['seen_in']))}</li>"
                        for a in ip["other_addresses"])
        parts.append(f"<p>Other addresses the cookies reveal (origins behind the balancer, or example blocks):</p>"
                     f"<ul>{items}</ul>")
    if ip["client_address_in_cookies"]:
        items = "".join(f"<li>{e(c)}</li>" for c in ip["client_address_in_cookies"])
        parts.append(f"<p>Cookies that store the client's address (IP-based affinity or tracking):</p><ul>{items}</ul>")
    else:
        parts.append("<p>No cookie stored the client's address (checked only with --client-ip).</p>")
    return "\n".join(parts)


def _findings_by_site(data: dict[str, Any]) -> str:
    peers = {r["id"]: r.get("peers", []) for r in data["rules"]}
    by_site: dict[str, list[dict[str, Any]]] = {}
    for f in data["findings"]:
        by_site.setdefault(f["site"], []).append(f)
    return "".join(
        f"<h3>{e(site)}</h3>\n" + "".join(_finding(f, peers.get(f["rule"], [])) for f in findings)
        for site, findings in by_site.items()
    )


def _finding(f: dict[str, Any], peers: list[dict[str, str]]) -> str:
    sev = e(f["severity"])
    evidence = "".join(f'<li class="decoded">Decoded: {e(line)}</li>' for line in common.evidence(f))
    raw = "".join(
        f"<li>Set-Cookie: <code>{e(ev['set_cookie'])}</code></li>" for ev in f["evidence"] if "set_cookie" in ev
    )
    basis = "".join(f'<li><a href="{e(b["url"])}">{e(b["ref"])}</a> ({e(b["kind"])})</li>' for b in f["basis"])
    refs = "".join(f'<li><a href="{e(u)}">{e(u)}</a></li>' for u in f["references"])
    refs += "".join(f"<li>{e(p['scanner'])} {e(p['id'])}</li>" for p in peers)
    times = f"{f['count']} time{'s' if f['count'] != 1 else ''}"
    return (
        f'<div class="finding sev-{sev}">\n'
        f'<h4><span class="badge b-{sev}">{sev}</span> {e(common.status_tag(f))}{e(f["rule"])}: {e(f["title"])}</h4>\n'
        f"<p>{e(f['message'])}</p>\n"
        f"<ul><li>Host <code>{e(f['host'])}</code>, cookie <code>{e(f['cookie'])}</code>, "
        f"first at {e(common.where(f))} ({e(times)})</li>"
        f"<li>Confidence {e(f['confidence'])}; {e(', '.join(f['cwe']) or 'no CWE')}</li>{evidence}{raw}</ul>\n"
        f"<p><strong>Basis</strong></p><ul>{basis}</ul>\n"
        + (f"<p><strong>Fix in {e(f['vendor'])}:</strong> {e(f['vendor_fix'])}</p>\n" if f.get("vendor_fix") else "")
        + f"<p><strong>Fix:</strong> {e(f['remediation'])}</p>\n"
        f"<details><summary>References and peer scanners</summary><ul>{refs}</ul></details>\n"
        "</div>\n"
    )


def _cookies(cookies: list[dict[str, Any]]) -> str:
    if not cookies:
        return "<p>No cookies were set in the inputs.</p>"
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Host", "Site", "Cookie", "Set by", "Affinity", "Flags", "Lifetime", "Party", "Decoded", "Rules")
    )
    rows = []
    for c in cookies:
        value = f"<br><code>{e(c['value'])}</code>" if "value" in c else ""
        rows.append(
            "<tr>"
            f"<td>{e(c['host'])}</td><td>{e(c['site'])}</td><td><code>{e(c['name'])}</code>{value}</td>"
            f"<td>{e(common.vendor(c))}</td><td>{'yes' if c['affinity'] else 'no'}</td>"
            f"<td>{e(common.flags(c))}</td><td>{e(common.lifetime(c))}</td><td>{e(c['party'])}</td>"
            f'<td class="decoded">{e(common.decoded(c["decoded"]))}</td><td>{e(", ".join(c["rules"]))}</td>'
            "</tr>\n"
        )
    return f"<table><tr>{head}</tr>\n{''.join(rows)}</table>"


def _fixed(baseline: dict[str, Any] | None) -> str:
    if not baseline or not baseline["fixed"]:
        return ""
    items = "".join(f"<li>{e(x['rule'])} {e(x['host'])} <code>{e(x['cookie'])}</code>: {e(x['title'])}</li>"
                    for x in baseline["fixed"])
    return f"<h2>Fixed since the baseline</h2>\n<ul>{items}</ul>\n"


def _errors(errors: list[dict[str, str]]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{e(x['input'])}: {e(x['place'])}: {e(x['message'])}</li>" for x in errors)
    return f'<h2>Input errors</h2>\n<ul class="errors">{items}</ul>'
