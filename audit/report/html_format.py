"""One self-contained HTML file: no scripts, no external assets, every value escaped.

Hosts, cookie names, URLs and decoded values all come from traffic an attacker may control,
so nothing reaches the page without html.escape.
"""

from __future__ import annotations

import html
from string import Template
from typing import Any

from audit.findings import SEVERITIES
from audit.findings import Report
from audit.report import common

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
</style>
</head>
<body>
<h1>stickyguard cookie audit</h1>
<p>$summary</p>
<p>Generated $generated_at by stickyguard $version.</p>
<h2>Inputs</h2>
<table><tr><th>Input</th><th>Kind</th><th>Responses</th><th>SHA-256</th></tr>
$inputs</table>
<h2>Summary</h2>
<table><tr>$severity_heads</tr><tr>$severity_counts</tr></table>
<h2>Findings</h2>
$findings
<h2>Cookie inventory</h2>
$cookies
$errors
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
        findings="".join(_finding(f) for f in data["findings"]) or "<p>No findings.</p>",
        cookies=_cookies(data["cookies"]),
        errors=_fixed(data.get("baseline")) + _errors(data["errors"]),
    )


def _finding(f: dict[str, Any]) -> str:
    sev = e(f["severity"])
    evidence = "".join(f'<li class="decoded">Decoded: {e(line)}</li>' for line in common.evidence(f))
    raw = "".join(
        f"<li>Set-Cookie: <code>{e(ev['set_cookie'])}</code></li>" for ev in f["evidence"] if "set_cookie" in ev
    )
    basis = "".join(f'<li><a href="{e(b["url"])}">{e(b["ref"])}</a> ({e(b["kind"])})</li>' for b in f["basis"])
    refs = "".join(f'<li><a href="{e(u)}">{e(u)}</a></li>' for u in f["references"])
    times = f"{f['count']} time{'s' if f['count'] != 1 else ''}"
    return (
        f'<div class="finding sev-{sev}">\n'
        f'<h3><span class="badge b-{sev}">{sev}</span> {e(common.status_tag(f))}{e(f["rule"])}: {e(f["title"])}</h3>\n'
        f"<p>{e(f['message'])}</p>\n"
        f"<ul><li>Host <code>{e(f['host'])}</code>, cookie <code>{e(f['cookie'])}</code>, "
        f"first at {e(common.where(f))} ({e(times)})</li>"
        f"<li>Confidence {e(f['confidence'])}; {e(', '.join(f['cwe']))}</li>{evidence}{raw}</ul>\n"
        f"<p><strong>Basis</strong></p><ul>{basis}</ul>\n"
        f"<p><strong>Fix:</strong> {e(f['remediation'])}</p>\n"
        f"<details><summary>References</summary><ul>{refs}</ul></details>\n"
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
