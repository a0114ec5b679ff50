"""
Audit cookies live, as responses pass through the proxy.

Usage:

    mitmdump -s addons/auditor.py --set audit_report=report.html

Each new finding (per rule, host and cookie) is logged once through mitmproxy's log; counts
accumulate. The report is written when the proxy stops, and on demand with the command
`audit.report PATH`. The format follows the file name (.html, .json, .sarif, .md, .txt) unless
`audit_format` says otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from typing import Optional

import mitmproxy.types
from mitmproxy import command
from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http

try:  # `mitmdump -s` runs this file in mitmproxy's own Python: stickyguard must be installed there
    import stickyguard.addons  # noqa: F401
except ModuleNotFoundError:  # one line, not a traceback; mitmproxy then goes on without this addon
    logging.error("stickyguard is not installed in the Python that runs mitmproxy: `pipx inject mitmproxy "
                  "stickyguard`, or `pip install stickyguard` in mitmproxy's environment")
    raise SystemExit(1) from None

from stickyguard.audit import api


def format_for(path: str, explicit: str) -> str:
    return explicit or api.report_format_for(path).name


class Auditor:
    def __init__(self) -> None:
        self.audit: api.Audit | None = None
        self.responses = 0
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stickyguard-auditor")

    def load(self, loader) -> None:
        loader.add_option("audit_report", Optional[str], None, "Write the audit report here when the proxy stops.")
        loader.add_option(
            "audit_format", str, "",
            "Report format: table, markdown, json, sarif or html; empty follows the report's file name.",
        )
        loader.add_option(
            "audit_rules", Sequence[str], [],
            "More rule folders (rule files, optionally affinity-cookies.yaml); a rule with an existing id "
            "replaces it.",
        )

    def configure(self, updated) -> None:
        if "audit_format" in updated and ctx.options.audit_format not in ("", *api.FORMATS):
            raise exceptions.OptionsError(
                f"audit_format must be one of {', '.join(sorted(api.FORMATS))}, not {ctx.options.audit_format!r}")
        if "audit_rules" in updated or self.audit is None:
            extra = [Path(d) for d in ctx.options.audit_rules]
            missing = [str(d) for d in extra if not d.is_dir()]
            if missing:
                raise exceptions.OptionsError(f"audit_rules: not a folder: {missing[0]}")
            try:
                rules, catalog = api.load_rules(extra)
            except api.RuleFileError as e:
                raise exceptions.OptionsError(f"audit_rules: {e.problems[0]}") from e
            self.audit = api.new_audit(rules, catalog)

    async def response(self, flow: http.HTTPFlow) -> None:
        if self.audit is None or flow.response is None:
            return
        try:
            exchange = api.exchange_from_flow(flow, "live", flow.request.pretty_url)
        except Exception as e:  # one odd response must never stop the proxy
            logging.warning(f"auditor: skipped {flow.request.pretty_url}: {e}")
            return
        # The audit runs on one worker thread, in arrival order: judging a costly value holds up this
        # response only, never other clients on mitmproxy's event loop.
        try:
            await asyncio.get_running_loop().run_in_executor(self._worker, self._judge, self.audit, exchange)
        except RuntimeError:  # the proxy is stopping: the worker took its last response
            return

    def _judge(self, audit: api.Audit, exchange: Any) -> None:
        before = audit.finding_count
        try:
            audit.add(exchange)
        except Exception as e:  # one odd response must never stop the proxy
            logging.warning(f"auditor: skipped {exchange.url}: {e}")
            return
        self.responses += 1
        for finding in audit.findings_since(before):
            logging.warning(f"stickyguard {finding.severity} {finding.rule} {finding.host} {finding.cookie}: "
                            f"{finding.title}")

    @command.command("audit.report")
    def report(self, path: mitmproxy.types.Path) -> None:
        """Write the audit report of everything seen so far to PATH."""
        self.write(str(path), format_for(str(path), ctx.options.audit_format))

    def write(self, path: str, fmt: str) -> None:
        assert self.audit is not None
        # On the worker, after the responses already handed to it: the audit is never read mid-change,
        # and the count of responses is the one the report's findings come from.
        report = self._worker.submit(self._report, self.audit).result()
        try:
            Path(path).write_text(api.FORMATS[fmt].render(report), encoding="utf-8")
        except OSError as e:
            raise exceptions.CommandError(f"cannot write {path}: {e.strerror or e}") from e
        logging.info(f"stickyguard: wrote {path}: {len(report.findings)} findings from {self.responses} responses")

    def _report(self, audit: api.Audit) -> api.Report:
        inputs = [{"path": "live traffic", "kind": "live", "sha256": None, "exchanges": self.responses}]
        return api.report(audit, inputs, [])

    def done(self) -> None:
        if self.audit is not None and ctx.options.audit_report:
            try:
                self.write(ctx.options.audit_report, format_for(ctx.options.audit_report, ctx.options.audit_format))
            except exceptions.CommandError as e:
                logging.error(f"stickyguard: {e}")
        self._worker.shutdown(wait=True)


addons = [Auditor()]
