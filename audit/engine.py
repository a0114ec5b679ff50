"""Observations x rules -> findings, and the cookie inventory, folded into one Report.

`Audit` is fed exchanges one at a time (so a capture of any size streams through it) and keeps
only the inventory and the consolidated findings: one finding per rule, host and cookie name,
with an instance count and the distinct decoded evidence, as Burp consolidates passive issues.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import clock
from stickyguard.audit import compliance
from stickyguard.audit import cookies
from stickyguard.audit import decoders
from stickyguard.audit import evidence
from stickyguard.audit import limits
from stickyguard.audit import recovery
from stickyguard.audit.catalog import Catalog
from stickyguard.audit.conditions import CONDITIONS
from stickyguard.audit.conditions import DEFAULT_SETTINGS
from stickyguard.audit.conditions import Settings
from stickyguard.audit.conditions import decoded_tags
from stickyguard.audit.findings import Finding
from stickyguard.audit.findings import Report
from stickyguard.audit.records import Exchange
from stickyguard.audit.records import InputError
from stickyguard.audit.rules import Rule

MAX_EVIDENCE = 10  # distinct decoded values kept per finding
MAX_BACKEND_ROWS = 50  # inventory rows per host and cookie name, one per distinct decoded backend
# The decoded keys that tell one backend from another: a cookie's rows split on these.
BACKEND_KEYS = ("ip", "port", "host", "url", "server", "route", "server_id", "datacenter", "recovered")
MAX_HASHED = 10000  # hashed cookies held back for recovery; later ones are judged unrecovered
MAX_ATTRIBUTE_SETS = 4096  # distinct attribute sets shared between inventory rows
MAX_RULE_LISTS = 4096  # (class, vendor, decoded tags) combinations whose candidate rules are kept


class _RuleIndex:
    """Rules grouped by the cookies they look at, each with its conditions bound to functions, so judging
    a cookie touches only the rules that can fire for it: those of its class and vendor whose
    `decodes_to` conditions its decoded tags meet (those conditions are then left out: they hold)."""

    def __init__(self, rules: list[Rule]):
        self.by_class: dict[str, list[tuple[Rule, tuple]]] = {}
        for rule in rules:
            checks = tuple((op, CONDITIONS[op], arg) for op, arg in rule.conditions)
            self.by_class.setdefault(rule.cookie, []).append((rule, checks))
        self._lists: dict[tuple[bool, str | None, frozenset[str]], list[tuple[Rule, tuple]]] = {}

    def candidates(self, obs: cookies.CookieObservation, tags: frozenset[str]) -> list[tuple[Rule, tuple]]:
        key = (obs.affinity, obs.vendor, tags)
        found = self._lists.get(key)
        if found is None:
            get = self.by_class.get
            listed = get("any", []) + get("affinity" if obs.affinity else "other", [])
            if obs.vendor is not None:
                listed += get(obs.vendor, [])
            found = []
            for rule, checks in listed:
                if all(arg in tags for op, _, arg in checks if op == "decodes_to"):
                    found.append((rule, tuple((check, arg) for op, check, arg in checks if op != "decodes_to")))
            if len(self._lists) < MAX_RULE_LISTS:
                self._lists[key] = found
        return found


class Audit:
    def __init__(
        self,
        rules: list[Rule],
        catalog: Catalog,
        settings: Settings = DEFAULT_SETTINGS,
        show_values: bool = False,
        candidates: list | None = None,
    ):
        self.rules = rules
        self.catalog = catalog
        self.settings = settings
        self.show_values = show_values
        self._index = _RuleIndex(rules)
        self.candidates = candidates
        self._hashed: list[cookies.CookieObservation] = []
        self._inventory: dict[tuple[str, str, tuple], dict[str, Any]] = {}
        self._backend_rows: dict[tuple[str, str], list] = {}
        self._findings: dict[tuple[str, str, str], Finding] = {}
        self._attribute_sets: dict[tuple, dict[str, Any]] = {}
        self.notices: list[InputError] = []  # what the input bounds (audit/limits.py) cut

    def add(self, exchange: Exchange) -> None:
        lines = exchange.set_cookie_lines()
        if len(lines) > limits.MAX_SET_COOKIES:
            self._notice(exchange.source, exchange.place, f"{len(lines)} Set-Cookie lines in one response; the "
                                                          f"first {limits.MAX_SET_COOKIES} were audited")
        for obs in cookies.observe(exchange, lines=lines):
            if len(obs.value) > limits.MAX_VALUE:
                self._notice(obs.source, obs.place, f"cookie {obs.name}'s value is {len(obs.value)} characters; "
                                                    f"its first {limits.MAX_VALUE} were searched")
            self.add_observation(obs)

    def _notice(self, source: str, place: str, message: str) -> None:
        """A bound cut something: say so in the report's errors (at most MAX_NOTICES of them)."""
        if len(self.notices) < limits.MAX_NOTICES:
            self.notices.append(InputError(source, place, message))

    @property
    def finding_count(self) -> int:
        return len(self._findings)

    def findings_since(self, count: int) -> list[Finding]:
        """Findings first seen after the audit held `count` of them (a live auditor logs each once)."""
        return list(self._findings.values())[count:]

    def add_observation(self, obs: cookies.CookieObservation) -> list[Rule]:
        if obs.expiry == "deleted":
            if not obs.classified:
                catalog_mod.apply(self.catalog, obs)
            self._inventory_row(obs)  # the deletion idiom: the browser stores nothing, so nothing to judge
            return []
        # An expired value was still sent to the client, so it is judged like any other; the lifetime
        # rules see its expiry (a lifetime of 0 is neither persistent nor long).
        if not obs.classified:
            catalog_mod.apply(self.catalog, obs)
        elif obs.vendor is not None and obs.vendor not in self.catalog.vendors:
            self._notice(obs.source, obs.place, f"cookie {obs.name}: the recording names vendor {obs.vendor!r}, "
                                                "which the catalog does not know; judged as an unknown vendor's")
            obs.vendor = obs.vendor_name = None
        if self.candidates and obs.decoded and "hash" in obs.decoded and "ip" not in obs.decoded:
            if len(self._hashed) < MAX_HASHED:
                self._hashed.append(obs)  # judged in report(), once every target is known
                return []
        return self._record(obs)

    def _record(self, obs: cookies.CookieObservation) -> list[Rule]:
        fired = self.judge(obs)
        row = self._inventory_row(obs)
        summary = evidence.describe(obs.decoded) if fired and obs.decoded else ""
        for rule in fired:
            if rule.id not in row["rules"]:
                row["rules"].append(rule.id)
            self._add_finding(rule, obs, summary)
        return fired

    def judge(self, obs: cookies.CookieObservation) -> list[Rule]:
        """The rules that fire for one classified observation."""
        settings = self.settings
        fired = []
        for rule, checks in self._index.candidates(obs, decoded_tags(obs.decoded)):
            for check, arg in checks:
                if not check(obs, arg, settings):
                    break
            else:
                fired.append(rule)
        return sorted(fired, key=lambda r: r.id) if len(fired) > 1 else fired

    def _inventory_row(self, obs: cookies.CookieObservation) -> dict[str, Any]:
        """The cookie's row: one per host, name and distinct decoded backend, so two backends behind one
        name (or two balancers behind one host) each keep their own."""
        backend = backend_of(obs.decoded) if obs.affinity else ()  # other cookies' values vary per user
        key = (obs.host, obs.name, backend)
        row = self._inventory.get(key)
        if row is None and backend:
            rows = self._backend_rows.setdefault((obs.host, obs.name), [])
            if len(rows) >= MAX_BACKEND_ROWS:
                if len(rows) == MAX_BACKEND_ROWS:
                    rows.append(None)
                    self._notice(obs.source, obs.place, f"cookie {obs.name} on {obs.host} named over "
                                                        f"{MAX_BACKEND_ROWS} backends; the inventory lists "
                                                        f"the first {MAX_BACKEND_ROWS}")
                row = self._inventory[rows[0]]
            else:
                rows.append(key)
        if row is not None:
            row["seen"] += 1
            if row["expiry"] and not obs.expiry:
                row["expiry"] = None  # the same cookie also arrived alive
            return row
        attrs = obs.attributes
        row = {
            "host": obs.host,
            "site": obs.site,
            "name": obs.name,
            "vendor": obs.vendor,
            "vendor_name": obs.vendor_name,
            # Set by the balancer itself: the fix goes into its configuration, not the application.
            "vendor_managed": bool(obs.vendor and self.catalog.vendors[obs.vendor].managed),
            "affinity": obs.affinity,
            "classified_by": obs.classified_by,
            "attributes": self._attributes(attrs),
            "domain_scope": obs.domain_scope,
            "expiry": obs.expiry,
            "lifetime_from": obs.lifetime_reference,
            "lifetime_seconds": obs.lifetime_seconds,
            "effective_lifetime_seconds": obs.effective_lifetime_seconds,
            "party": {True: "third", False: "first", None: "unknown"}[obs.third_party],
            "top_level_site": obs.top_level_site,
            # The observation's own copy (catalog.apply made it): rows and evidence only read it.
            "decoded": obs.decoded or None,
            "set_by": safe_url(obs.url),
            "first_seen": f"{obs.source}: {obs.place}",
            "seen": 1,
            "rules": [],
        }
        if self.show_values:
            row["value"] = obs.value
        self._inventory[key] = row
        return row

    def _attributes(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The row's flags, one shared dict per distinct set (a capture repeats a few sets across thousands
        of rows, and reports only read them)."""
        key = (bool(attrs.get("secure")), bool(attrs.get("httponly")), attrs.get("samesite"),
               bool(attrs.get("partitioned")), attrs.get("domain"), attrs.get("path"))
        shared = self._attribute_sets.get(key)
        if shared is None:
            shared = dict(zip(("secure", "httponly", "samesite", "partitioned", "domain", "path"), key, strict=True))
            if len(self._attribute_sets) < MAX_ATTRIBUTE_SETS:
                self._attribute_sets[key] = shared
        return shared

    def _add_finding(self, rule: Rule, obs: cookies.CookieObservation, summary: str) -> None:
        key = (rule.id, obs.host, obs.name)
        finding = self._findings.get(key)
        if finding is not None:
            finding.count += 1
            if (obs.decoded or self.show_values) and len(finding.evidence) < MAX_EVIDENCE:
                evidence = _evidence(obs, summary, self.show_values)
                if evidence not in finding.evidence:
                    finding.evidence.append(evidence)
            return
        evidence = _evidence(obs, summary, self.show_values)
        self._findings[key] = Finding(
            rule=rule.id,
            name=rule.name,
            title=rule.title,
            severity=rule.severity,
            confidence=_capped(rule.confidence, obs.classified_by),
            cwe=list(rule.cwe),
            basis=list(rule.basis),  # shared with the rule: findings never change it
            references=list(rule.references),
            host=obs.host,
            site=obs.site,
            cookie=obs.name,
            vendor=obs.vendor,
            message=rule.message.format_map(self._message_fields(obs, summary)) + _expired_note(obs),
            remediation=rule.remediation,
            vendor_fix=dict(rule.fixes).get(obs.vendor or ""),
            url=safe_url(obs.url),
            source=obs.source,
            place=obs.place,
            evidence=[evidence] if evidence else [],
        )

    def _message_fields(self, obs: cookies.CookieObservation, summary: str) -> dict[str, str]:
        return {
            "cookie": obs.name,
            "vendor": obs.vendor_name or ("an unidentified" if obs.affinity else "a"),
            "host": obs.host,
            "site": obs.site,
            "url": safe_url(obs.url),
            "decoded": summary or "nothing",
            "lifetime": clock.human_duration(obs.lifetime_seconds),
            "domain": obs.attributes.get("domain") or obs.host,
            "samesite": str(obs.attributes.get("samesite") or "missing"),
            "budget": clock.human_duration(self.settings.max_lifetime_seconds),
            "prefix_problems": ", ".join(obs.prefix_problems) or "nothing",
            "hash_advice": self._hash_advice(obs),
            "lifetime_weight": lifetime_weight(obs.lifetime_seconds, self.settings.max_lifetime_seconds),
        }

    def _hash_advice(self, obs: cookies.CookieObservation) -> str:
        """What a reader can do about a hashed value, true to what was tried."""
        if self.candidates:
            tried = recovery.count(self.candidates)
            maybe_keyed = ", or a secret was set" if (obs.decoded or {}).get("keyed") else ""
            return (f"--candidates hashed {tried:,} address and port pairs and none matched it: the backend is "
                    f"outside those ranges{maybe_keyed}")
        if (obs.decoded or {}).get("keyed"):
            return "without a secret (the default), hashing the likely backend addresses recovers it (try --candidates)"
        return "such hashes carry no secret, so hashing the likely backend addresses recovers it (try --candidates)"

    def _tagged(self, tag: str) -> set[str]:
        return {r.id for r in self.rules if tag in r.tags}

    def _recover_hashed(self) -> None:
        """Hash every candidate once against every hashed value seen, then judge those cookies."""
        pending, self._hashed = self._hashed, []
        if not pending:
            return
        found = recovery.recover(self.candidates, {o.value for o in pending})
        for obs in pending:
            hit = found.get(obs.value.strip().strip('"').lower())
            if hit:
                ip, port, how = hit
                obs.decoded = {**(obs.decoded or {}), "ip": ip, "port": port,
                               "address_class": decoders.address_class(ip), "recovered": how}
            self._record(obs)

    def report(
        self,
        inputs: list[dict[str, Any]],
        errors: Iterable[InputError],
        generated_at: str,
        tool: dict[str, str],
    ) -> Report:
        self._recover_hashed()
        findings = sorted(self._findings.values(), key=Finding.sort_key)
        inventory = sorted(self._inventory.values(), key=lambda r: (r["site"], r["host"], r["name"]))
        for row in inventory:
            row["rules"].sort()
        compliance.mark_exemptions(inventory, findings, self._tagged("personal-data"),
                                   self.settings.max_lifetime_seconds)
        return Report(
            tool=tool,
            generated_at=generated_at,
            inputs=inputs,
            rules=[r.describe() for r in self.rules],
            cookies=inventory,
            findings=findings,
            errors=[*errors, *self.notices],
            show_values=self.show_values,
            sites=compliance.sites(inventory, findings),
            ip_exposure=compliance.ip_exposure(inventory, findings, self._tagged("client-address")),
            charts=compliance.charts(inventory, findings),
        )


# A finding rests on the attribution as much as on the rule: a value recognised by its shape alone, or a
# cookie called an affinity cookie for a word in its name, is at most this sure.
_ATTRIBUTION_CAP = {"value": "medium", "heuristic": "low"}
_CONFIDENCES = ("low", "medium", "high")


def _capped(confidence: str, classified_by: str | None) -> str:
    cap = _ATTRIBUTION_CAP.get(classified_by or "")
    if cap is None or confidence not in _CONFIDENCES:
        return confidence
    return min(confidence, cap, key=_CONFIDENCES.index)


def _expired_note(obs: cookies.CookieObservation) -> str:
    if obs.expiry != "expired":
        return ""
    against = {"audit time": "judged at the audit's time, as the input has no date",
               "capture time": "judged at the capture's time"}
    when = against.get(obs.lifetime_reference, "judged at its response's Date")
    return (f" This Set-Cookie had already expired when it was sent ({when}): the value reached the client, "
            "but the browser does not keep the cookie.")


def lifetime_weight(seconds: int | None, budget: int) -> str:
    """How much a persistent lifetime weighs against the session-only consent exemption."""
    if seconds is None or seconds <= 0:
        return "it ends with the session"
    if seconds <= budget:
        return (f"a short lifetime, within the {clock.human_duration(budget)} budget: close to a session "
                "cookie, though still not one")
    return f"a lifetime past the {clock.human_duration(budget)} budget, which no routing purpose needs"


def backend_of(decoded: dict[str, Any] | None) -> tuple:
    """What names the backend in a decoded value, as a key (empty when nothing does)."""
    if not decoded:
        return ()
    return tuple((k, str(decoded[k])) for k in BACKEND_KEYS if decoded.get(k) not in (None, ""))


def _evidence(obs: cookies.CookieObservation, summary: str, show_values: bool) -> dict[str, Any]:
    evidence: dict[str, Any] = {}
    if obs.decoded:
        evidence["decoded"] = obs.decoded  # shared with the row: nothing changes it once judged
        evidence["summary"] = summary
    if show_values:
        evidence["set_cookie"] = obs.set_cookie
    return evidence


def safe_url(url: str) -> str:
    """The URL without query and fragment, which may carry tokens of their own."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


@dataclasses.dataclass
class ExampleResult:
    """How a rule's own example behaved: did the rule fire as the example says it must?"""

    rule: str
    kind: str  # "match" or "no_match"
    index: int
    fired: bool

    @property
    def ok(self) -> bool:
        return self.fired == (self.kind == "match")


def run_examples(rules: list[Rule], catalog: Catalog, settings: Settings = DEFAULT_SETTINGS) -> list[ExampleResult]:
    """Judge every rule's examples as cookies of their own, with the whole rule set loaded."""
    results = []
    for rule in rules:
        for kind in ("match", "no_match"):
            for index, example in enumerate(rule.examples[kind]):
                name = example["set_cookie"].split("=")[0].strip()
                steered = frozenset({(urlsplit(example["url"]).hostname or "", name)} if example.get("steered") else ())
                example_settings = dataclasses.replace(settings, client_ip=example.get("client_ip"), steered=steered)
                audit = Audit(rules, catalog, example_settings)
                headers = [("Set-Cookie", example["set_cookie"])]
                if "date" in example:
                    headers.append(("Date", example["date"]))
                exchange = Exchange(
                    url=example["url"],
                    method="GET",
                    status=200,
                    request_headers=[],
                    response_headers=headers,
                    timestamp=None,
                    top_level_url=example.get("top_level_url", example["url"]),
                    source=rule.path,
                    place=f"tests/{kind}/{index}",
                )
                fired = any(
                    rule.id in {r.id for r in audit.add_observation(obs)}
                    for obs in cookies.observe(exchange)
                )
                results.append(ExampleResult(rule.id, kind, index, fired))
    return results
