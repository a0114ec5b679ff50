"""`stickyguard probe URL`: run the sessions, name the mechanism, test tampering, and say it all."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import TYPE_CHECKING
from typing import Any

import stickyguard.audit as package
from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import clock
from stickyguard.audit.cookies import scheme_and_host
from stickyguard.audit.datafiles import RULES_DIR
from stickyguard.audit.findings import SEVERITIES
from stickyguard.audit.findings import Report
from stickyguard.audit.report import FORMATS

if TYPE_CHECKING:  # the HTTP client and the analysis load when a probe runs, not with every audit
    from stickyguard.audit.probe import analysis
    from stickyguard.audit.probe import identity
    from stickyguard.audit.probe import sessions
    from stickyguard.audit.probe import tamper


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("probe", help="ask a live site how it keeps sessions sticky",
                              description="Probe a live site's stickiness: mechanism, spread, tamper-resistance.")
    p.add_argument("url", help="the http(s) URL to probe; traffic goes only there")
    p.add_argument("--sessions", type=int, default=20, help="fresh sessions (default 20)")
    p.add_argument("--returns", type=int, default=3, help="returning requests per session (default 3)")
    p.add_argument("--source-address", action="append", default=[], metavar="IP",
                   help="a local address to send from; repeat to show source-IP affinity")
    p.add_argument("--concurrency", type=int, default=4, help="sessions at once (default 4)")
    p.add_argument("--rate", type=float, default=10.0, help="requests per second at most (default 10)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    p.add_argument("--no-tamper", action="store_true", help="skip the tamper test")
    p.add_argument("--insecure", action="store_true", help="do not verify the site's TLS certificate")
    p.add_argument("-f", "--format", choices=sorted(FORMATS), default="table",
                   help="report format, as for `stickyguard audit` (default: table)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument("--save-capture", metavar="FILE.har", help="also write every exchange the probe made as a HAR")
    p.add_argument("--fail-on", choices=[*SEVERITIES, "none"], default="low",
                   help="exit 1 when a finding is at or above this severity (default: low), as `audit` does")
    p.set_defaults(table_format="simple")


def run(args: argparse.Namespace) -> Report:
    """Probe the site and judge what it answered: the report the CLI writes like an audit's. Raises
    ValueError naming every bound the arguments pass."""
    from stickyguard.audit.probe import analysis
    from stickyguard.audit.probe import identity
    from stickyguard.audit.probe import sessions
    from stickyguard.audit.probe import tamper
    from stickyguard.audit.probe.client import USER_AGENT
    from stickyguard.audit.probe.client import Response
    from stickyguard.audit.probe.client import fetch

    plan = sessions.Plan(args.url, args.sessions, args.returns, tuple(args.source_address) or (None,),
                         args.concurrency, args.rate, args.timeout,
                         USER_AGENT.format(version=package.__version__), not args.insecure)
    problems = plan.problems()
    if problems:
        raise ValueError("; ".join(problems))
    catalog = catalog_mod.load([RULES_DIR])
    interrupted = threading.Event()

    def send(cookies: dict[str, str], source: str | None) -> Response:
        if interrupted.is_set():  # after Ctrl-C no request is sent: the verdicts rest on what was seen
            return Response(None, (), "", 0.0, error="not asked: the probe was stopped")
        return fetch(plan.url, cookies, plan.user_agent, plan.timeout, source, plan.verify)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rprobing {done}/{total}")

    visits = sessions.run(plan, progress, interrupted=interrupted)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 30 + "\r")
    if interrupted.is_set():
        print(f"stickyguard: probe stopped after {len(visits)} requests; reporting what they showed, without "
              "the cookie and tamper tests", file=sys.stderr)
    signal = identity.find(visits, catalog)
    figs = analysis.figures(visits, signal)
    classify = _classifier(catalog)
    verdict = analysis.name_mechanism(visits, figs, signal, send, classify)
    outcomes = tamper.run(visits, figs, signal, verdict.cookie, send) \
        if verdict.cookie and signal and not args.no_tamper and not interrupted.is_set() else []
    result = summary(args.url, visits, signal, figs, verdict, outcomes)
    steered = frozenset({(scheme_and_host(args.url)[1], verdict.cookie)}) if result["steerable"] and verdict.cookie \
        else frozenset()
    report = audit_report(args.url, visits, result, steered)
    if args.save_capture:
        write_har(args.save_capture, args.url, visits)
    return report


def _classifier(catalog: catalog_mod.Catalog):
    """(name, value) -> (vendor display name, inserted by a balancer product, carries a route id)."""
    def classify(name: str, value: str) -> tuple[str | None, bool, bool]:
        facts = catalog.facts(name, value)
        vendor = facts.get("vendor")
        found = catalog.classify(name, value)
        # HAProxy's `cookie <name> prefix` writes its server into the application's own session cookie:
        # the balancer rides on the application's cookie rather than inserting one of its own.
        rides_on_application = found is not None and found.decoder == "haproxy_prefix"
        managed = bool(vendor and catalog.vendors[vendor].managed) and not rides_on_application
        route = bool((facts.get("decoded") or {}).get("route"))
        return facts.get("vendor_name"), managed, route
    return classify


def audit_report(url: str, visits: list[sessions.Visit], result: dict[str, Any],
                 steered: frozenset[tuple[str, str]]) -> Report:
    """The cookies the probe was given, judged by the same rules as any capture (SG401 where the tamper
    test steered a client), with the probe's figures beside them."""
    from stickyguard.audit import api
    from stickyguard.audit.conditions import Settings
    from stickyguard.audit.records import Exchange

    rules, catalog = api.load_rules()
    auditor = api.new_audit(rules, catalog, Settings(steered=steered))
    times = [v.response.at for v in visits if v.response.at]
    for v in visits:
        if v.response.status is None:
            continue
        cookie = [("Cookie", "; ".join(f"{k}={val}" for k, val in v.sent))] if v.sent else []
        auditor.add(Exchange(url, "GET", v.response.status, cookie, list(v.response.headers), v.response.at or None,
                             url, "probe", f"session {v.session}, request {v.step}"))
    source = {"path": url, "kind": "probe", "sha256": None, "exchanges": len(visits),
              "first_seen": clock.utc_iso(min(times)) if times else None,
              "last_seen": clock.utc_iso(max(times)) if times else None}
    report = api.report(auditor, [source], [])
    report.probe = result
    return report


def write_har(path: str, url: str, visits: list[sessions.Visit]) -> None:
    """What the probe saw, as HAR 1.2 (headers only: the probe keeps no bodies)."""
    entries = []
    for v in visits:
        r = v.response
        entries.append({
            "startedDateTime": clock.utc_iso(r.at, "milliseconds") if r.at else "1970-01-01T00:00:00.000Z",
            "time": round(r.seconds * 1000, 1),
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Cookie", "value": "; ".join(f"{k}={x}" for k, x in v.sent)}] if v.sent
                        else [], "cookies": [{"name": k, "value": x} for k, x in v.sent], "queryString": [],
                        "headersSize": -1, "bodySize": 0},
            "response": {"status": r.status or 0, "statusText": r.error or "", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": k, "value": x} for k, x in r.headers], "cookies": [],
                         "content": {"size": -1, "mimeType": r.header("content-type") or ""}, "redirectURL": "",
                         "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": round(r.seconds * 1000, 1), "receive": 0},
            "comment": f"stickyguard probe: session {v.session}, request {v.step}"
                       + (f", from {v.source}" if v.source else ""),
        })
    doc = {"log": {"version": "1.2", "creator": {"name": "stickyguard", "version": package.__version__},
                   "entries": entries}}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(doc, out, indent=1)


def summary(url: str, visits: list[sessions.Visit], signal: identity.Signal | None, figs: analysis.Figures,
            verdict: analysis.Verdict, outcomes: list[tamper.Outcome]) -> dict[str, Any]:
    failed = sum(v.response.status is None for v in visits)
    return {
        "url": url,
        "requests": len(visits),
        "failed": failed,
        "backend_signal": signal.describe() if signal else None,
        "mechanism": {"kind": verdict.mechanism, "confidence": verdict.confidence, "cookie": verdict.cookie,
                      "vendor": verdict.vendor, "evidence": verdict.evidence},
        "stickiness": figs.stickiness,
        "sessions_per_backend": figs.spread.sessions_per_backend,
        "max_over_mean": figs.spread.max_over_mean,
        "jain": figs.spread.jain,
        "by_source": {s: dict(c) for s, c in sorted(figs.by_source.items())},
        "tamper": [{"variant": o.variant, "landed": o.landed, "target": o.target, "steered": o.steered}
                   for o in outcomes],
        "steerable": any(o.steered for o in outcomes),
    }
