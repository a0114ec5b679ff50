"""The `stickyguard` command: proxy subcommands run here, every other one goes to audit/cli.py.

    stickyguard record --listen 127.0.0.1:8080 -o site.jsonl
    stickyguard balance --listen 127.0.0.1:8080 --backend app1=http://10.0.0.11:8080 --backend ...
    stickyguard audit site.jsonl
    stickyguard demo

The proxy runs in this process with our addons added to mitmproxy *before* any option is set,
so a bad value is an error with exit status 2 instead of a proxy that silently starts without
the addon (what `mitmdump -s` does with an unparsable `--set`).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from typing import Optional

from stickyguard.addons.master import PLACEHOLDER_MODE
from stickyguard.addons.master import listen_address
from stickyguard.addons.master import proxy_master
from stickyguard.addons.master import serve
from stickyguard.audit import cli as audit_cli

PROXY_COMMANDS = ("record", "balance", "demo", "ctl")
USAGE = """usage: stickyguard COMMAND [options]

commands:
  demo      the whole toolkit on loopback: backends, balancer, recorder, a failover, the audit
  balance   a sticky load balancer in front of several backends (mitmproxy)
  ctl       operate a running balancer: status, drain, undrain, reload, set-weight (--admin)
  record    record affinity traffic passively (mitmproxy), for a later audit
  audit     audit captures (HAR, mitmproxy flows, Set-Cookie headers, recordings)
  probe     ask a live site how it keeps sessions sticky: mechanism, spread, tamper test
  rules     list or validate rules

`stickyguard COMMAND --help` shows a command's options; `stickyguard --version` the version.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stickyguard record",
                                     description="Record affinity traffic through mitmproxy, passively.")
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="where the proxy listens (default: 127.0.0.1:8080)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the recording (JSON Lines)")
    parser.add_argument("--mode", default="regular", metavar="MODE",
                        help="mitmproxy mode: regular (default), reverse:URL, upstream:URL, transparent")
    parser.add_argument("--filter", metavar="EXPR", help="record only flows matching this mitmproxy filter")
    parser.add_argument("--raw-values", action="store_true", help="keep raw cookie values (hashed by default)")
    parser.add_argument("--keep-query", action="store_true", help="keep URL query values (dropped by default)")
    parser.add_argument("--confdir", metavar="DIR", help="mitmproxy's configuration folder (CA certificates)")
    return parser


def build_balance_parser() -> argparse.ArgumentParser:
    """`stickyguard balance`: --listen, --certs and --confdir, then one flag per balancer option, made from
    the options' one declaration (addons/balancing/options.py and each kind's own)."""
    from stickyguard.addons.balancing.kinds import KINDS
    from stickyguard.addons.balancing.kinds import OPTIONS

    kinds = "; ".join(f"{name}: {kind.help}" for name, kind in KINDS.items())
    parser = argparse.ArgumentParser(prog="stickyguard balance",
                                     description=f"A sticky load balancer in front of several backends. Affinity "
                                                 f"kinds: {kinds}.")
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="where the balancer listens (default: 127.0.0.1:8080)")
    for option in OPTIONS:
        metavar = option.metavar or ("{" + ",".join(option.choices) + "}" if option.choices
                                     else option.launcher_flag[2:].upper().replace("-", "_"))
        kwargs: dict = {"dest": option.name, "metavar": metavar, "help": _flag_help(option)}
        if option.repeated:
            kwargs.update(action="append", required=option.name == "balance_backends")
        elif option.typespec is bool:
            kwargs.update(action=argparse.BooleanOptionalAction)
            del kwargs["metavar"]
        elif option.typespec is int:
            kwargs["type"] = int
        parser.add_argument(option.launcher_flag, **kwargs)
    parser.add_argument("--certs", action="append", default=[], metavar="[DOMAIN=]PEM",
                        help="serve HTTPS with this certificate and key (mitmproxy's certs option); repeatable")
    parser.add_argument("--upstream-ca", metavar="PEM",
                        help="trust this CA, instead of the usual public ones, for https:// backends "
                             "(mitmproxy's ssl_verify_upstream_trusted_ca option)")
    parser.add_argument("--confdir", metavar="DIR", help="mitmproxy's configuration folder")
    return parser


def options_markdown() -> str:
    """The README's table of the balancer's options, made from their declaration (tests/test_readme.py)."""
    from stickyguard.addons.balancing.kinds import OPTIONS

    rows = ["| option (`--set`) | launcher flag | default | meaning |", "|---|---|---|---|"]
    for o in OPTIONS:
        default = f"`{o.shown_default}`" if o.shown_default else ""
        flag = o.launcher_flag.replace("--", "--[no-]", 1) if o.typespec is bool else o.launcher_flag
        rows.append(f"| `{o.name}` | `{flag}` | {default} | {o.full_help.replace('|', '&#124;')} |")
    rows.append("| `certs` (mitmproxy's) | `--certs [DOMAIN=]PEM` | | Serve HTTPS with this certificate and key. |")
    rows.append("| `ssl_verify_upstream_trusted_ca` (mitmproxy's) | `--upstream-ca PEM` | | Trust this CA, instead of "
                "the usual public ones, for https:// backends. |")
    return "\n".join(rows) + "\n"


def _flag_help(option) -> str:
    default = f" (default: {option.shown_default})" if option.shown_default else ""
    repeat = " Repeat for each." if option.repeated and not option.help.endswith("each backend.") else ""
    return (option.full_help + repeat + default).replace("%", "%%")


async def record(args: argparse.Namespace) -> int:
    from stickyguard.addons.recorder import Recorder

    host, port = listen_address(args.listen)
    settings = {
        "record_file": args.output,
        "record_filter": args.filter,
        "record_values": "raw" if args.raw_values else "hashed",
        "record_query": "keep" if args.keep_query else "drop",
    }
    if args.confdir:
        settings["confdir"] = args.confdir
    return await serve(proxy_master(host, port, args.mode, Recorder()), settings,
                       f"stickyguard: recording {args.mode} traffic on {host}:{port} to {args.output}; Ctrl-C stops")


def balance_settings(args: argparse.Namespace) -> dict:
    """The mitmproxy options `stickyguard balance` sets: the two it always needs, then each balancer
    option given on the command line, in the order the options are declared."""
    from stickyguard.addons.balancing.kinds import OPTIONS

    settings: dict = {
        "connection_strategy": "lazy",  # never connect to the placeholder target
        "keep_host_header": True,       # backends see the client's Host
    }
    for option in OPTIONS:
        value = getattr(args, option.name)
        if value is not None:
            # An empty value turns an optional setting off (--health ''); elsewhere the option says what is wrong.
            settings[option.name] = None if value == "" and option.typespec == Optional[str] else value
    if args.certs:
        settings["certs"] = args.certs
    if args.upstream_ca:
        settings["ssl_verify_upstream_trusted_ca"] = args.upstream_ca
    if args.confdir:
        settings["confdir"] = args.confdir
    return settings


def mitmdump_command(listen: tuple[str, int], settings: dict) -> str:
    """The equivalent `mitmdump -s addons/balancer.py` command, for people who run mitmdump themselves."""
    parts = ["mitmdump", "-s", "addons/balancer.py", "--mode", PLACEHOLDER_MODE,
             "--listen-host", listen[0], "--listen-port", str(listen[1])]
    from stickyguard.addons.balancing.kinds import OPTIONS
    from stickyguard.addons.balancing.store import masked

    secret = {o.name for o in OPTIONS if o.secret}
    for key, value in settings.items():
        if key in secret:
            continue  # never echoed: give it the same way, or through the secret file or $STICKYGUARD_BALANCE_SECRET
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                text = ""  # turned off
            else:
                text = str(item).lower() if isinstance(item, bool) else masked(str(item))  # a store URL's password
            parts += ["--set", shlex.quote(f"{key}={text}")]
    return " ".join(parts)


async def balance(args: argparse.Namespace) -> int:
    from stickyguard.addons.balancer import Balancer

    host, port = listen_address(args.listen)
    settings = balance_settings(args)
    backends = len(args.balance_backends)
    banner = (f"stickyguard: balancing on {host}:{port} over {backends} backends; the same with mitmdump:\n"
              f"  {mitmdump_command((host, port), settings)}")
    if settings.get("balance_secret"):
        banner += "\n  (balance_secret is not shown: give it the same way, or as $STICKYGUARD_BALANCE_SECRET)"
    if "***@" in banner:
        banner += "\n  (a password in a store URL is shown as ***)"
    return await serve(proxy_master(host, port, PLACEHOLDER_MODE, Balancer()), settings, banner)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] not in PROXY_COMMANDS:
        return audit_cli.main(argv)
    if argv[0] == "demo":
        from stickyguard.addons.demo import main as demo  # it imports this module

        return demo.main(argv[1:])
    if argv[0] == "ctl":
        from stickyguard.addons import ctl

        return ctl.main(argv[1:])
    parser = build_parser() if argv[0] == "record" else build_balance_parser()
    args = parser.parse_args(argv[1:])
    try:
        listen_address(args.listen)
    except ValueError as e:
        print(f"stickyguard: error: {e}", file=sys.stderr)
        return 2
    return asyncio.run(record(args) if argv[0] == "record" else balance(args))


if __name__ == "__main__":
    sys.exit(main())
