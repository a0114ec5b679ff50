"""One self-contained HTML file for the people a compliance report is for: no scripts, no external
assets, every value escaped, and a print stylesheet (A4 or Letter) that keeps every table whole.

Hosts, cookie names, URLs and decoded values all come from traffic an attacker may control, so nothing
reaches the page without html.escape. The arrangement (scope and verdict first, each rule once with
the cookies it found, the inventory site by site) is audit/report/grouping.py's, which the Markdown
report shares.
"""

from __future__ import annotations

import html
import re
from string import Template
from typing import Any

from stickyguard.audit.findings import Report
from stickyguard.audit.report import common
from stickyguard.audit.report import grouping

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
h3 { margin: 1.6rem 0 .4rem; } a { color: #1a4f8b; } li a { overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: .3rem .45rem; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
th { background: #f3f3f3; }
code { font-size: 12px; overflow-wrap: anywhere; }
dl.scope { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .8rem 0; }
dl.scope dt { font-weight: 600; } dl.scope dd { margin: 0; }
.overall { font-size: 1.1rem; padding: .6rem .8rem; border-left: 6px solid #5d6d7e; background: #f6f6f6; }
.rule { border: 1px solid #ddd; border-left-width: 6px; padding: .2rem 1rem .6rem; margin: 1rem 0; }
.rule h3 { margin-top: .6rem; } .rule .meta { color: #444; margin: .2rem 0 .6rem; }
.sev-critical { border-left-color: #6d0000; } .sev-high { border-left-color: #c0392b; }
.sev-medium { border-left-color: #e67e22; } .sev-low { border-left-color: #2980b9; }
.sev-info { border-left-color: #7f8c8d; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; color: #fff; font-size: 12px; }
.b-critical { background: #6d0000; } .b-high { background: #c0392b; } .b-medium { background: #e67e22; }
.b-low { background: #2980b9; } .b-info { background: #7f8c8d; }
.decoded { font-weight: 600; }
.rule td:nth-child(2), .site td:nth-child(2) { min-width: 6.5em; }
.errors li { color: #a00; }
.verdict-within { color: #1e7b34; font-weight: 600; } .verdict-outside { color: #b03a2e; font-weight: 600; }
.verdict-doubtful { color: #8a5a00; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
.charts figure { margin: 0; flex: 1 1 20rem; }
nav ol { columns: 2 18rem; } nav li { break-inside: avoid; }
@media (max-width: 40rem) {
  body { margin: 1rem auto; font-size: 14px; } th, td { padding: .2rem .3rem; }
  dl.scope { grid-template-columns: 1fr; } dl.scope dd { margin-bottom: .3rem; }
  table.stack tr:first-child { display: none; }
  table.stack tr { display: block; border: 1px solid #ddd; margin-bottom: .6rem; }
  table.stack td { display: block; border: none; }
  table.stack td::before { content: attr(data-label) ": "; font-weight: 600; }
}
@page { margin: 16mm 12mm 14mm;
  @top-left { content: "$print_title"; font: 8pt system-ui, sans-serif; color: #555; }
  @top-right { content: "$print_date"; font: 8pt system-ui, sans-serif; color: #555; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font: 8pt system-ui, sans-serif;
    color: #555; } }
@media print {
  body { font-size: 9pt; line-height: 1.3; margin: 0; max-width: none; padding: 0; }
  h1 { font-size: 15pt; } h2 { font-size: 12pt; margin-top: 1rem; } h3 { font-size: 10pt; margin: .6rem 0 .2rem; }
  table { font-size: 7.5pt; } th, td { padding: 1px 3px; } code { font-size: 7pt; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  .rule { padding: 0 .5rem .3rem; margin: .5rem 0; }
  .rule, .site, tr, figure { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  details::details-content { content-visibility: visible; display: block; }
  details summary { list-style: none; font-weight: 600; }
  .charts figure { flex: 1 1 14rem; }
}
</style>
</head>
<body>
<header>
<h1>$heading</h1>
<dl class="scope">$scope</dl>
</header>
<section id="verdict">
<h2>Verdict</h2>
<p class="overall">$overall</p>
$sites
<div class="charts">$charts</div>
</section>
$probe
<nav id="contents">
<h2>Contents</h2>
<ol>$contents</ol>
</nav>
<section id="findings">
<h2>Findings by rule</h2>
$findings
</section>
<section id="ip-exposure">
<h2>IP exposure</h2>
$ip_exposure
</section>
<section id="inventory">
<h2>Cookie inventory</h2>
$cookies
</section>
$errors
<section id="provenance">
<h2>Provenance</h2>
<p>Generated $generated_at by stickyguard $version with rule set $rules_version.</p>
<table class="stack"><tr><th>Input</th><th>Kind</th><th>Responses</th><th>Capture period</th><th>SHA-256</th></tr>
$inputs</table>
<p><small>Not legal advice: the consent exemptions are national transpositions of Directive
2002/58/EC, and regulators differ in detail. Cookie values are omitted unless the report was
made with --show-values.</small></p>
</section>
</body>
</html>
""")


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


_TICKS = re.compile(r"`([^`]+)`")


def prose(text: str) -> str:
    """Rule text as written in the rule files: escaped, with `backticks` shown as code."""
    return _TICKS.sub(r"<code>\1</code>", e(text))


def render(report: Report) -> str:
    data = report.as_dict()
    groups = grouping.rule_groups(data)
    names = grouping.vendor_names(data)  # once: each group's rows look their vendors up in it
    sites = [s["site"] for s in data["sites"]]
    shown_sites = ", ".join(sites[:3]) + (f" and {len(sites) - 3} more" if len(sites) > 3 else "")
    date = data["generated_at"][:10]
    return PAGE.substitute(
        title=e(f"Cookie affinity audit: {shown_sites}" if sites else "Cookie affinity audit"),
        heading=e("Cookie affinity audit" + (f": {shown_sites}" if sites else "")),
        print_title=_css_string(f"stickyguard cookie affinity audit{': ' + shown_sites if sites else ''}"),
        print_date=_css_string(date),
        scope=_scope(data),
        overall=e(grouping.overall_verdict(data)),
        sites=_sites(grouping.sites_by_verdict(data)),
        charts=_bar_chart("Findings by severity", data["charts"]["findings_by_severity"], SEVERITY_COLOURS)
        + _bar_chart("Affinity cookies by vendor", data["charts"]["affinity_cookies_by_vendor"], {}),
        contents=_contents(data, groups),
        probe=_probe(data.get("probe")),
        findings="".join(_rule_group(g, names) for g in groups) or "<p>No findings.</p>",
        ip_exposure=_ip_exposure(data["ip_exposure"]),
        cookies=_inventory(data),
        errors=_fixed(data.get("baseline")) + _errors(data["errors"]),
        generated_at=e(data["generated_at"]),
        version=e(data["tool"]["version"]),
        rules_version=e(data["tool"].get("rules", "built-in")),
        inputs="".join(
            f'<tr><td data-label="Input">{e(i["path"])}</td><td data-label="Kind">{e(i["kind"])}</td>'
            f'<td data-label="Responses">{e(i["exchanges"])}</td>'
            f'<td data-label="Capture period">{e(_input_period(i))}</td>'
            f'<td data-label="SHA-256"><code>{e(i["sha256"] or "-")}</code></td></tr>\n'
            for i in data["inputs"]
        ),
    )


def _css_string(text: str) -> str:
    """Text for a CSS string in the page's <style>: a quote, a backslash or a `<` cannot end either."""
    return "".join(ch if ch.isalnum() or ch in " .,:-_()" else f"\\{ord(ch):06x}" for ch in text)


SEVERITY_COLOURS = {"critical": "#6d0000", "high": "#c0392b", "medium": "#e67e22", "low": "#2980b9", "info": "#7f8c8d"}


def _scope(data: dict[str, Any]) -> str:
    rows = [(label, e(text)) for label, text in grouping.scope(data)]
    rows.append(("Rule set", f"<code>{e(data['tool'].get('rules', 'built-in'))}</code> ({len(data['rules'])} rules)"))
    return "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)


def _input_period(i: dict[str, Any]) -> str:
    return grouping.period({"inputs": [i]}) or "-"


_SITE_HEADS = ("Site", "Affinity cookies", "Set by", "Findings", "Worst", "Load-balancing consent exemption")


def _verdict_class(verdict: str) -> str:
    return {"within the exemption": "verdict-within", "outside the exemption": "verdict-outside",
            "doubtful: short-lived persistence": "verdict-doubtful"}.get(verdict, "")


def _sites(sites: list[dict[str, Any]]) -> str:
    if not sites:
        return "<p>No cookies were set in the inputs.</p>"
    rows = []
    for s in sites:
        verdict = s["exemption"]["verdict"]
        reasons = "".join(f"<li>{e(r)}</li>" for r in s["exemption"]["reasons"])
        cells = [f'<a href="#{e(grouping.site_anchor(s["site"]))}">{e(s["site"])}</a>',
                 f"{s['affinity_cookies']} of {s['cookies']}", e(common.site_vendors(s)), str(s["findings"]),
                 e(s["worst"] or "-"),
                 f'<span class="{_verdict_class(verdict)}">{e(verdict)}</span>'
                 + (f"<ul>{reasons}</ul>" if reasons else "")]
        tds = "".join(f'<td data-label="{h}">{c}</td>' for h, c in zip(_SITE_HEADS, cells, strict=True))
        rows.append(f"<tr>{tds}</tr>\n")
    head = "".join(f"<th>{h}</th>" for h in _SITE_HEADS)
    return f'<table class="stack"><tr>{head}</tr>\n{"".join(rows)}</table>'


def _probe(probe: dict[str, Any] | None) -> str:
    """What `stickyguard probe` measured: the mechanism with its evidence, the figures, the tamper test,
    and the sessions per backend as a chart."""
    if not probe:
        return ""
    lines = common.probe_lines(probe)
    items = "".join(f"<li>{e(line.strip().lstrip('- '))}</li>" for line in lines[1:])
    chart = _bar_chart("Sessions per backend", probe["sessions_per_backend"], {})
    return (f'<section id="probe">\n<h2>The probe</h2>\n<p>{e(lines[0])}</p>\n<ul>{items}</ul>\n'
            f'<div class="charts">{chart}</div>\n</section>\n')


def _contents(data: dict[str, Any], groups: list[grouping.RuleGroup]) -> str:
    rules = "".join(f'<li><a href="#{g.anchor}">{e(g.rule["id"])}: {e(g.rule["title"])}</a> '
                    f"({len(g.findings)})</li>" for g in groups)
    sites = "".join(f'<li><a href="#{e(grouping.site_anchor(site))}">{e(site)}</a></li>'
                    for site, _ in grouping.cookies_by_site(data))
    items = ['<li><a href="#verdict">Verdict</a></li>'] + (['<li><a href="#probe">The probe</a></li>']
                                                            if data.get("probe") else []) + [
             f'<li><a href="#findings">Findings by rule</a>{f"<ul>{rules}</ul>" if rules else ""}</li>',
             '<li><a href="#ip-exposure">IP exposure</a></li>',
             f'<li><a href="#inventory">Cookie inventory</a>{f"<ul>{sites}</ul>" if sites else ""}</li>']
    if data.get("baseline", {}).get("fixed"):
        items.append('<li><a href="#fixed">Fixed since the baseline</a></li>')
    if data["errors"]:
        items.append('<li><a href="#input-errors">Input errors</a></li>')
    items.append('<li><a href="#provenance">Provenance</a></li>')
    return "".join(items)


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


_AFFECTED_HEADS = ("Host", "Cookie", "Set by", "What was found", "Seen", "First seen")


def _rule_group(group: grouping.RuleGroup, names: dict[str, str]) -> str:
    rule = group.rule
    sev = e(rule["severity"])
    rows = []
    for f in group.findings:
        more = common.evidence(f)[1:]
        also = f'<br><span class="decoded">Also decoded: {e("; ".join(more))}</span>' if more else ""
        raw = "".join(f"<br>Set-Cookie: <code>{e(ev['set_cookie'])}</code>"
                      for ev in f["evidence"] if "set_cookie" in ev)
        cells = [e(f["host"]), f"{e(common.status_tag(f))}<code>{e(f['cookie'])}</code>",
                 e(grouping.vendor_name(f.get("vendor"), names)), f"{e(f['message'])}{also}{raw}", e(f["count"]),
                 e(common.where(f))]
        rows.append("<tr>" + "".join(f'<td data-label="{h}">{c}</td>' for h, c in zip(_AFFECTED_HEADS, cells,
                                                                                       strict=True)) + "</tr>\n")
    head = "".join(f"<th>{h}</th>" for h in _AFFECTED_HEADS)
    basis = "".join(f'<li><a href="{e(b["url"])}">{e(b["ref"])}</a> ({e(b["kind"])})</li>' for b in rule["basis"])
    fixes = "".join(f"<p><strong>Fix in {e(vendor)}:</strong> {prose(fix)}</p>\n" for vendor, fix in group.vendor_fixes)
    if group.generic_fix:
        label = "Fix for the other cookies" if group.vendor_fixes else "Fix"
        fixes += f"<p><strong>{label}:</strong> {prose(rule['remediation'])}</p>\n"
    refs = "".join(f'<li><a href="{e(u)}">{e(u)}</a></li>' for u in rule["references"])
    peers = ", ".join(f"{e(p['scanner'])} {e(p['id'])}" for p in rule.get("peers", []))
    hosts = group.hosts
    return (
        f'<section class="rule sev-{sev}" id="{group.anchor}">\n'
        f'<h3><span class="badge b-{sev}">{sev}</span> {e(rule["id"])}: {e(rule["title"])}</h3>\n'
        f'<p class="meta">{len(group.findings)} cookie{"s" if len(group.findings) != 1 else ""} on {len(hosts)} '
        f'host{"s" if len(hosts) != 1 else ""}; confidence {e(rule["confidence"])}; '
        f'{e(", ".join(rule["cwe"]) or "no CWE")}</p>\n'
        f'<table class="stack"><tr>{head}</tr>\n{"".join(rows)}</table>\n'
        f"<p><strong>Basis:</strong></p><ul>{basis}</ul>\n{fixes}"
        f"<details><summary>References and peer scanners</summary><ul>{refs}</ul>"
        + (f"<p>Peer scanners that check the same: {peers}</p>" if peers else "")
        + "</details>\n</section>\n"
    )


_INVENTORY_HEADS = ("Host", "Cookie", "Set by", "Affinity", "Flags", "Lifetime", "Party", "Decoded", "Rules")


def _inventory(data: dict[str, Any]) -> str:
    if not data["cookies"]:
        return "<p>No cookies were set in the inputs.</p>"
    verdicts = {s["site"]: s["exemption"]["verdict"] for s in data["sites"]}
    head = "".join(f"<th>{h}</th>" for h in _INVENTORY_HEADS)
    out = []
    for site, cookies in grouping.cookies_by_site(data):
        rows = []
        for c in cookies:
            value = f"<br><code>{e(c['value'])}</code>" if "value" in c else ""
            rules = ", ".join(f'<a href="#{grouping.rule_anchor(r)}">{e(r)}</a>' for r in c["rules"])
            cells = [e(c["host"]), f"<code>{e(c['name'])}</code>{value}", e(common.vendor(c)),
                     "yes" if c["affinity"] else "no", e(common.flags(c)), e(common.lifetime(c)), e(c["party"]),
                     f'<span class="decoded">{e(common.decoded(c["decoded"]))}</span>', rules]
            rows.append("<tr>" + "".join(f'<td data-label="{h}">{x}</td>' for h, x in zip(_INVENTORY_HEADS, cells,
                                                                                          strict=True)) + "</tr>\n")
        verdict = verdicts.get(site, "")
        out.append(
            f'<section class="site" id="{e(grouping.site_anchor(site))}">\n'
            f'<h3>{e(site)} <small class="{_verdict_class(verdict)}">{e(verdict)}</small></h3>\n'
            f'<table class="stack"><tr>{head}</tr>\n{"".join(rows)}</table>\n</section>\n'
        )
    return "".join(out)


def _fixed(baseline: dict[str, Any] | None) -> str:
    if not baseline or not baseline["fixed"]:
        return ""
    items = "".join(f"<li>{e(x['rule'])} {e(x['host'])} <code>{e(x['cookie'])}</code>: {e(x['title'])}</li>"
                    for x in baseline["fixed"])
    return f'<section id="fixed">\n<h2>Fixed since the baseline</h2>\n<ul>{items}</ul>\n</section>\n'


def _errors(errors: list[dict[str, str]]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{e(x['input'])}: {e(x['place'])}: {e(x['message'])}</li>" for x in errors)
    return f'<section id="input-errors">\n<h2>Input errors</h2>\n<ul class="errors">{items}</ul>\n</section>\n'
