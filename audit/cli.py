"""The audit subcommands of `stickyguard`: `audit` and `rules`. Also `python -m stickyguard.audit`.

Exit status: 0 when nothing is at or above --fail-on, 1 when something is (or a rule example
misbehaves), 2 for usage errors, unreadable input and invalid rule files. Errors are one line
each, naming the file and the place; never a traceback for a user mistake.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import stickyguard.audit as audit
from stickyguard.audit import api
from stickyguard.audit import baseline
from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import engine
from stickyguard.audit import recovery
from stickyguard.audit import rules as rule_data
from stickyguard.audit import sources
from stickyguard.audit.conditions import DEFAULT_MAX_LIFETIME
from stickyguard.audit.conditions import Settings
from stickyguard.audit.findings import SEVERITIES
from stickyguard.audit.findings import Report
from stickyguard.audit.findings import severity_rank
from stickyguard.audit.report import FORMATS
from stickyguard.audit.report import table_format

PROG = api.NAME
PROGRESS_MIN_BYTES = 4 * 1024 * 1024  # smaller captures read too fast for a bar to help
GC_THRESHOLDS = (10_000, 10, 10)  # gc's (700, 10, 10), with a tenth of the young collections


class UsageError(Exception):
    pass


def duration(text: str) -> int:
    """`3600`, `90s`, `30m`, `24h`, `7d`, `1y` -> seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdy]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 3600, 30m, 24h or 7d)")
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}[m.group(2)]
    return int(m.group(1)) * factor


def http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL with a host: {text!r}")
    return text


def ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def table_style(text: str) -> str:
    if text == table_format.DEFAULT_TABLE_FORMAT:
        return text  # argparse passes the default through here too: no need to load tabulate for it
    from tabulate import tabulate_formats

    if text not in tabulate_formats:
        raise argparse.ArgumentTypeError(
            f"unknown table format {text!r}; choose from {', '.join(sorted(tabulate_formats))}"
        )
    return text


def rules_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a folder: {text}")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Audit the affinity cookies that sites and load balancers set.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {audit.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("audit", help="audit captures (HAR, mitmproxy flows, Set-Cookie headers)")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a HAR file, a mitmproxy flow file (mitmdump -w), or Set-Cookie header "
                        "text such as `curl -sI` output; - reads stdin")
    p.add_argument("-f", "--format", choices=sorted(FORMATS), default="table",
                   help="report format (default: table)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument("--fail-on", choices=[*SEVERITIES, "none"], default="low",
                   help="exit 1 when a finding is at or above this severity (default: low)")
    p.add_argument("--rules", action="append", type=rules_dir, default=[], metavar="DIR",
                   help="more rules: a folder of rule files (and optionally affinity-cookies.yaml); "
                        "a rule with an existing id replaces it; repeatable")
    p.add_argument("--only-rules", action="store_true",
                   help="use only the rules from --rules, not the built-in ones")
    p.add_argument("--url", type=http_url, default=sources.DEFAULT_URL,
                   help=f"URL that header text was fetched from (default: {sources.DEFAULT_URL})")
    p.add_argument("--max-lifetime", type=duration, default=DEFAULT_MAX_LIFETIME, metavar="DURATION",
                   help="longest lifetime an affinity cookie may ask for before SG302 fires (default: 24h)")
    p.add_argument("--candidates", action="append", default=[], metavar="RANGES",
                   help="addresses, CIDR ranges and ports to try against hashed backend cookies, "
                        "e.g. 10.0.0.0/24:80,8080 (ports default to 80,443,8080); repeatable")
    p.add_argument("--client-ip", type=ip_address, metavar="IP",
                   help="the client's address as the site saw it, to find it stored in cookies")
    p.add_argument("--baseline", metavar="REPORT.json",
                   help="an earlier JSON report: mark findings new or unchanged, list the fixed ones, "
                        "and let only new findings decide the exit status")
    p.add_argument("--show-values", action="store_true",
                   help="put raw cookie values in the report (they are left out by default)")
    p.add_argument("--table-format", type=table_style, default=table_format.DEFAULT_TABLE_FORMAT,
                   metavar="STYLE", help="any tabulate table format for --format table (default: simple)")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    from stickyguard.audit.probe import command as probe_command  # its HTTP client loads only for `probe`

    probe_command.add_parser(sub)
    r = sub.add_parser("rules", help="list or validate rules")
    rsub = r.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    lst = rsub.add_parser("list", help="list the rules")
    lst.add_argument("--rules", action="append", type=rules_dir, default=[], metavar="DIR")
    lst.add_argument("--only-rules", action="store_true")
    lst.add_argument("-f", "--format", choices=["table", "markdown", "json"], default="table")
    val = rsub.add_parser("validate", help="check rule files against the schema and run their examples")
    val.add_argument("directory", nargs="?", type=rules_dir, default=None, metavar="DIR",
                     help="a rules folder (default: the built-in rules)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "audit":
            return run_audit(args)
        if args.command == "probe":
            return run_probe(args)
        if args.rules_command == "list":
            return run_rules_list(args)
        return run_rules_validate(args)
    except rule_data.RuleFileError as e:
        for problem in e.problems:
            _error(problem)
        return 2
    except UsageError as e:
        _error(str(e))
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


def _error(text: str) -> None:
    print(f"{PROG}: error: {text}", file=sys.stderr)


def load(extra: list[Path], only: bool) -> tuple[list[rule_data.Rule], catalog_mod.Catalog]:
    if only and not extra:
        raise UsageError("--only-rules needs at least one --rules DIR")
    return api.load_rules(extra, only)


def run_audit(args: argparse.Namespace) -> int:
    if args.inputs.count("-") > 1:
        raise UsageError("stdin (-) can be read only once")
    try:
        ranges = recovery.parse(args.candidates) if args.candidates else None
    except recovery.CandidateError as e:
        raise UsageError(f"--candidates: {e}") from None
    try:
        earlier = baseline.load(args.baseline) if args.baseline else None
    except baseline.BaselineError as e:
        raise UsageError(f"--baseline: {e}") from None
    rules, catalog = load(args.rules, args.only_rules)
    # The audit keeps a heap that lives to its end (inventory, findings) and frees each entry as it reads
    # the next: a collection every 700 net allocations scanned that heap again and again (0.4 s of a 6 s
    # audit of 150,000 exchanges; 0.2 s at these thresholds). Cycles are still collected, less often.
    gc.set_threshold(*GC_THRESHOLDS)
    settings = Settings(max_lifetime_seconds=args.max_lifetime, client_ip=args.client_ip)
    auditor = api.new_audit(rules, catalog, settings, show_values=args.show_values, candidates=ranges)
    bar = (None if args.no_progress else _progress_bar(args.inputs)) or _NoBar()
    inputs, errors = api.read_inputs(auditor, args.inputs, args.url,
                                     progress=(lambda _: bar) if isinstance(bar, _ProgressBar) else None)
    bar.phase("judging", _ProgressBar.READING_SHARE)
    report = api.report(auditor, inputs, errors)
    bar.clear()
    for error in report.errors:  # what could not be read, and what the input bounds cut
        _error(str(error))
    if earlier is not None:
        baseline.apply(report, earlier, args.baseline)
    bar.phase("writing", 0.95)
    _write_report(report, args, bar)
    return 2 if report.errors else _findings_status(report, args.fail_on)


def run_probe(args: argparse.Namespace) -> int:
    from stickyguard.audit.probe import command as probe_command

    try:
        report = probe_command.run(args)
    except ValueError as e:
        raise UsageError(str(e)) from None
    _write_report(report, args, _NoBar())
    return _findings_status(report, args.fail_on)


def _findings_status(report: Report, fail_on: str) -> int:
    """1 when a finding is at or above --fail-on, else 0."""
    worst = report.worst()
    if worst is not None and fail_on != "none" and severity_rank(worst) >= severity_rank(fail_on):
        return 1
    return 0


def _write_report(report: Report, args: argparse.Namespace, bar: _ProgressBar | _NoBar) -> None:
    options = {"tablefmt": args.table_format, "width": _table_width(args.output),
               "as_json": bool(args.output) and args.output.lower().endswith(".json")}
    fmt = FORMATS[args.format]
    text = fmt.stream(report, **{k: v for k, v in options.items() if k in fmt.options})
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.writelines(text)
        except OSError as e:
            raise UsageError(f"{args.output}: cannot write the report: {e.strerror or e}") from e
        bar.clear()
        print(f"{PROG}: wrote {args.output}: {len(report.findings)} findings", file=sys.stderr)
    else:
        bar.clear()
        sys.stdout.writelines(text)
        sys.stdout.flush()


def run_rules_list(args: argparse.Namespace) -> int:
    rules, _ = load(args.rules, args.only_rules)
    if args.format == "json":
        print(json.dumps([r.describe() | {"match": r.cookie} for r in rules], indent=2))
        return 0
    if args.format == "markdown":
        sys.stdout.write(rules_markdown(rules))
        return 0
    from tabulate import tabulate

    rows = [[r.id, r.severity, r.cookie, r.title, ", ".join(r.cwe)] for r in rules]
    print(tabulate(rows, headers=["Rule", "Severity", "Cookies", "Title", "CWE"], tablefmt="simple"))
    return 0


def rules_markdown(rules: list[rule_data.Rule]) -> str:
    """The rule catalog as a Markdown table with each rule's basis and the peer scanners' ids (the README's)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| Rule | Severity | Cookies | Title | CWE | Basis | Peers |", "|---|---|---|---|---|---|---|"]
    for r in rules:
        basis = "; ".join(f"[{cell(b['ref'])}]({b['url']})" if b.get("url") else cell(b["ref"]) for b in r.basis)
        peers = ", ".join(cell(f"{p['scanner']} {p['id']}") for p in r.peers) or "-"
        lines.append(f"| {r.id} | {r.severity} | {r.cookie} | {cell(r.title)} | {', '.join(r.cwe) or '-'} | "
                     f"{basis} | {peers} |")
    return "\n".join(lines) + "\n"


def run_rules_validate(args: argparse.Namespace) -> int:
    directory = args.directory or rule_data.RULES_DIR
    extra = [] if args.directory is None else [directory]
    catalog = catalog_mod.load([rule_data.RULES_DIR, *extra])
    files = rule_data.rule_files(directory)
    has_catalog = (directory / rule_data.CATALOG_FILE).is_file()
    if not files and not has_catalog:
        raise UsageError(f"{directory}: no rule files (*.yaml or checks/*.yaml) in this folder")
    own = rule_data.load_rules([directory], catalog.cookie_classes())
    # Examples run with the built-in rules beside the new ones, as an audit would run them.
    everything = own if args.directory is None else rule_data.load_rules(
        [rule_data.RULES_DIR, directory], catalog.cookie_classes()
    )
    own_ids = {r.id for r in own}
    failed = 0
    by_id = {r.id: r for r in everything}
    for result in engine.run_examples(everything, catalog):
        if result.rule in own_ids and not result.ok:
            failed += 1
            expected = "fire" if result.kind == "match" else "stay silent"
            _error(f"{by_id[result.rule].path}: tests/{result.kind}/{result.index}: "
                   f"{result.rule} should {expected} on this example but did not")
    if failed:
        return 1
    what = f"{len(own)} rule{'s' if len(own) != 1 else ''}" + (" and the catalog" if has_catalog else "")
    print(f"{directory}: {what} valid; every rule example behaves")
    return 0


def _table_width(output: str | None) -> int:
    """The terminal's width when the table is shown on one, else a fixed width files and pipes read alike."""
    if output is None and sys.stdout.isatty():
        return shutil.get_terminal_size((table_format.DEFAULT_WIDTH, 24)).columns
    return table_format.DEFAULT_WIDTH


class _ProgressBar:
    """One line on stderr for the whole audit, redrawn at most ten times a second: `reading` while the inputs
    stream through (judged as they are read), then `judging` (what waits for every input: recovery, the
    compliance summary), then `writing` the report. Reading fills the first 90 %."""

    READING_SHARE = 0.9

    def __init__(self, total: int):
        self.total = max(total, 1)
        self.done_bytes = 0
        self.last = 0.0
        self.label = "reading"

    def __call__(self, n: int) -> None:
        self.done_bytes += n
        now = time.monotonic()
        if now - self.last >= 0.1:
            self.last = now
            self._draw(min(self.done_bytes / self.total, 1.0) * self.READING_SHARE)

    def done(self) -> None:
        """One input read; the bar goes on over the next."""

    def phase(self, label: str, share: float) -> None:
        self.label = label
        self._draw(share)

    def clear(self) -> None:
        sys.stderr.write("\r" + " " * 60 + "\r")
        sys.stderr.flush()

    def _draw(self, share: float) -> None:
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r{self.label:<8} [{bar:<30}] {share:5.1%}")
        sys.stderr.flush()


class _NoBar:
    """No bar (small inputs, --no-progress, stderr not a terminal): the phases pass unseen."""

    def phase(self, label: str, share: float) -> None:
        pass

    def clear(self) -> None:
        pass


def _progress_bar(paths: list[str]) -> _ProgressBar | None:
    """A bar when stderr is a terminal and the inputs are big enough to take a while."""
    if "-" in paths or not sys.stderr.isatty():
        return None
    try:
        size = sum(os.path.getsize(p) for p in paths)
    except OSError:
        return None
    return _ProgressBar(size) if size >= PROGRESS_MIN_BYTES else None
