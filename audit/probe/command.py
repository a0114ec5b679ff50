"""`stickyguard probe URL`: run the sessions, name the mechanism, test tampering, and say it all."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING
from typing import Any

import stickyguard.audit as package
from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit.datafiles import RULES_DIR

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
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stickyguard.audit.probe import analysis
    from stickyguard.audit.probe import identity
    from stickyguard.audit.probe import sessions
    from stickyguard.audit.probe import tamper
    from stickyguard.audit.probe.client import USER_AGENT
    from stickyguard.audit.probe.client import fetch

    plan = sessions.Plan(args.url, args.sessions, args.returns, tuple(args.source_address) or (None,),
                         args.concurrency, args.rate, args.timeout,
                         USER_AGENT.format(version=package.__version__), not args.insecure)
    problems = plan.problems()
    if problems:
        for problem in problems:
            print(f"stickyguard: error: {problem}", file=sys.stderr)
        return 2
    catalog = catalog_mod.load([RULES_DIR])

    def send(cookies: dict[str, str], source: str | None):
        return fetch(plan.url, cookies, plan.user_agent, plan.timeout, source, plan.verify)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rprobing {done}/{total}")

    visits = sessions.run(plan, progress)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 30 + "\r")
    signal = identity.find(visits, catalog)
    figs = analysis.figures(visits, signal)

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

    verdict = analysis.name_mechanism(visits, figs, signal, send, classify)
    outcomes = tamper.run(visits, figs, signal, verdict.cookie, send) \
        if verdict.cookie and signal and not args.no_tamper else []
    result = summary(args.url, visits, signal, figs, verdict, outcomes)
    print(json.dumps(result, indent=2) if args.format == "json" else text(result))
    return 0


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


def text(result: dict[str, Any]) -> str:
    m = result["mechanism"]
    lines = [f"stickyguard probe {result['url']}: {result['requests']} requests, {result['failed']} failed",
             f"backends told apart by: {result['backend_signal'] or 'nothing (the probe cannot tell backends apart)'}",
             f"mechanism: {m['kind']} ({m['confidence']} confidence)"]
    lines += [f"  - {e}" for e in m["evidence"]]
    if result["stickiness"] is not None:
        lines.append(f"stickiness: {result['stickiness']:.0%} of returning requests stayed")
    if result["sessions_per_backend"]:
        per = ", ".join(f"{b} {n}" for b, n in result["sessions_per_backend"].items())
        lines.append(f"spread: {per}; max/mean {result['max_over_mean']:.2f}; Jain's index {result['jain']:.2f}")
    for o in result["tamper"]:
        aim = f" (names {o['target']})" if o["target"] else ""
        lines.append(f"tamper, {o['variant']}{aim}: {', '.join(b or '?' for b in o['landed'])}"
                     + ("  <- the client chose its backend" if o["steered"] else ""))
    if result["tamper"]:
        lines.append("steerable: " + ("YES: a client can send itself to a backend of its choice"
                                      if result["steerable"] else "no"))
    return "\n".join(lines)
