"""The audit half as the other half calls it: the addons, the demo and the CLI go through here.

    rules, catalog = api.load_rules()                      # the built-in rules and catalog (+ more folders)
    auditor = api.new_audit(rules, catalog)
    inputs, errors = api.read_inputs(auditor, ["site.har"])
    report = api.report(auditor, inputs, errors)           # stamped with api.generated_at() and api.tool_info()
    text = api.FORMATS["html"].render(report)
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import stickyguard.audit as package
from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import clock
from stickyguard.audit import cookies
from stickyguard.audit import engine
from stickyguard.audit import recording
from stickyguard.audit import rules as rule_data
from stickyguard.audit import sources
from stickyguard.audit.conditions import Settings
from stickyguard.audit.datafiles import RULES_DIR
from stickyguard.audit.datafiles import RuleFileError
from stickyguard.audit.findings import Report
from stickyguard.audit.report import FORMATS
from stickyguard.audit.report import Format
from stickyguard.audit.report import for_path
from stickyguard.audit.report import table_format

__all__ = ["Audit", "Catalog", "cookie_lifetime", "cookie_pairs", "exchange_from_facts", "exchange_from_flow",
           "flow_facts", "Format", "FORMATS", "generated_at", "load_catalog", "load_rules", "new_audit",
           "parse_set_cookie", "read_inputs", "record_line", "render_overview", "Report", "report",
           "report_format_for", "Rule", "RuleFileError", "RULES_DIR", "Settings", "tool_info"]

NAME = "stickyguard"
generated_at = clock.generated_at
Audit = engine.Audit
Catalog = catalog_mod.Catalog
Rule = rule_data.Rule
# One response through mitmproxy as the record every reader yields (the recorder and the live auditor).
exchange_from_flow = sources.exchange_from_flow
# The same in two steps: a flow's facts as immutable values, taken as it passes, made an Exchange later.
flow_facts, exchange_from_facts = sources.flow_facts, sources.exchange_from_facts
# The recorder's line format (audit/recording.py): what a recording keeps of an exchange.
record_line = recording.record
# A Set-Cookie line as (name, value, attributes), and its lifetime in seconds per RFC 6265 (the balancer
# learns application cookies with these).
parse_set_cookie = cookies.parse_set_cookie
cookie_lifetime = cookies.lifetime
# A Cookie header's name=value pairs as mitmproxy reads them (the balancer finds its cookies with it).
cookie_pairs = cookies.cookie_pairs
# One screenful: the inputs, the sites and the worst findings (the demo prints it).
render_overview = table_format.render_overview


def load_rules(extra: Sequence[Path] = (), only: bool = False) -> tuple[list[rule_data.Rule], catalog_mod.Catalog]:
    """The rule set: the built-in rules plus `extra` folders (a rule with an existing id replaces it), or
    only `extra`; the catalog always has the built-in vendors. Raises RuleFileError naming file:line."""
    extra = list(extra)
    if only and not extra:
        raise ValueError("only the extra rule folders were asked for, and none was given")
    catalog = catalog_mod.load([RULES_DIR, *extra])
    return rule_data.load_rules(extra if only else [RULES_DIR, *extra], catalog.cookie_classes()), catalog


def load_catalog() -> catalog_mod.Catalog:
    """The built-in catalog of balancer cookies (the recorder classifies with it)."""
    return catalog_mod.load([RULES_DIR])


def new_audit(rules: list[rule_data.Rule], catalog: catalog_mod.Catalog, settings: Settings | None = None,
              **options: Any) -> engine.Audit:
    return engine.Audit(rules, catalog, settings or Settings(), **options)


def read_inputs(auditor: engine.Audit, paths: list[str], url: str = sources.DEFAULT_URL,
                progress: Callable[[str], Any] | None = None) -> tuple[list, list]:
    """Feed every capture to the auditor: (what was read, the input errors met). `progress(path)` may
    return a bar (called with bytes read, then `.done()`) or None."""
    inputs, errors = [], []
    for path in paths:
        bar = progress(path) if progress else None
        try:
            capture = sources.open_capture(path, url=url, progress=bar)
        except sources.CaptureError as e:
            errors.append(e.error)
            continue
        for exchange in capture.exchanges():
            auditor.add(exchange)
        if bar:
            bar.done()
        inputs.append(capture.describe())
        errors.extend(capture.errors)
    return inputs, errors


def tool_info(rules: list[rule_data.Rule]) -> dict:
    return {"name": NAME, "version": package.__version__, "rules": rule_data.version(rules)}


def report_format_for(path: str) -> Format:
    """The format a report file's name asks for (`report.md` is Markdown); HTML when it names none."""
    return for_path(path)


def report(auditor: engine.Audit, inputs: list, errors: list) -> Report:
    return auditor.report(inputs, errors, generated_at(), tool_info(auditor.rules))
