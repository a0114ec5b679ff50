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

from stickyguard.addons.master import PLACEHOLDER_MODE
from stickyguard.addons.master import listen_address
from stickyguard.addons.master import proxy_master
from stickyguard.addons.master import serve
from stickyguard.audit import cli as audit_cli

PROXY_COMMANDS = ("record", "balance", "demo")
USAGE = """usage: stickyguard COMMAND [options]

commands:
  demo      the whole toolkit on loopback: backends, balancer, recorder, a failover, the audit
  balance   a sticky load balancer in front of several backends (mitmproxy)
  record    record affinity traffic passively (mitmproxy), for a later audit
  audit     audit captures (HAR, mitmproxy flows, Set-Cookie headers, recordings)
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
    parser = argparse.ArgumentParser(prog="stickyguard balance",
                                     description="A sticky load balancer in front of several backends.")
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    parser.add_argument("--backend", action="append", required=True, metavar="NAME=URL[,weight=N][,route=ID]",
                        help="a backend; repeat for each")
    parser.add_argument("--affinity", default="cookie", help="cookie (default), app-cookie, ip or route")
    parser.add_argument("--app-cookie", default="JSESSIONID", help="the application's session cookie")
    parser.add_argument("--ip-prefix", type=int, default=32, help="IPv4 prefix ip affinity follows (e.g. 24)")
    parser.add_argument("--trusted-proxy", action="append", default=[], metavar="CIDR",
                        help="believe X-Forwarded-For from these networks")
    parser.add_argument("--route-param", help="query parameter carrying the route id")
    parser.add_argument("--route-header", help="header carrying the route id")
    parser.add_argument("--policy", default="p2c", help="placing new sessions: p2c (default) or round-robin")
    parser.add_argument("--health", default="tcp", help="tcp, http:/PATH[,interval=..] or '' for none")
    parser.add_argument("--store", default="memory", help="memory or sqlite:PATH (app-cookie)")
    parser.add_argument("--cookie-name", default="sg_affinity")
    parser.add_argument("--secret-file", help="the affinity secrets (created when missing)")
    parser.add_argument("--certs", action="append", default=[], metavar="[DOMAIN=]PEM",
                        help="serve HTTPS with this certificate and key (mitmproxy's certs option); repeatable")
    parser.add_argument("--confdir", metavar="DIR", help="mitmproxy's configuration folder")
    return parser


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
    """The mitmproxy options `stickyguard balance` sets, in the order a mitmdump command gives them."""
    settings = {
        "connection_strategy": "lazy",  # never connect to the placeholder target
        "keep_host_header": True,       # backends see the client's Host
        "balance_backends": args.backend,
        "balance_affinity": args.affinity,
        "balance_app_cookie": args.app_cookie,
        "balance_ip_prefix": args.ip_prefix,
        "balance_trusted_proxies": args.trusted_proxy,
        "balance_route_param": args.route_param,
        "balance_route_header": args.route_header,
        "balance_policy": args.policy,
        "balance_health": args.health or None,
        "balance_store": args.store,
        "balance_cookie_name": args.cookie_name,
    }
    if args.secret_file:
        settings["balance_secret_file"] = args.secret_file
    if args.certs:
        settings["certs"] = args.certs
    if args.confdir:
        settings["confdir"] = args.confdir
    return settings


def mitmdump_command(listen: tuple[str, int], settings: dict) -> str:
    """The equivalent `mitmdump -s addons/balancer.py` command, for people who run mitmdump themselves."""
    parts = ["mitmdump", "-s", "addons/balancer.py", "--mode", PLACEHOLDER_MODE,
             "--listen-host", listen[0], "--listen-port", str(listen[1])]
    for key, value in settings.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            text = str(item).lower() if isinstance(item, bool) else str(item)
            parts += ["--set", shlex.quote(f"{key}={text}")]
    return " ".join(parts)


async def balance(args: argparse.Namespace) -> int:
    from stickyguard.addons.balancer import Balancer

    host, port = listen_address(args.listen)
    settings = balance_settings(args)
    banner = (f"stickyguard: balancing on {host}:{port} over {len(args.backend)} backends; the same with mitmdump:\n"
              f"  {mitmdump_command((host, port), settings)}")
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
