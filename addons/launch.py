"""The `stickyguard` command: proxy subcommands run here, every other one goes to audit/cli.py.

    stickyguard record --listen 127.0.0.1:8080 -o site.jsonl
    stickyguard audit site.jsonl

The proxy runs in this process with our addons added to mitmproxy *before* any option is set,
so a bad value is an error with exit status 2 instead of a proxy that silently starts without
the addon (what `mitmdump -s` does with an unparsable `--set`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from audit import cli as audit_cli

PROXY_COMMANDS = ("record",)


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


def listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen: not HOST:PORT: {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


async def record(args: argparse.Namespace) -> int:
    from mitmproxy import exceptions
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    from addons.recorder import Recorder

    host, port = listen_address(args.listen)
    opts = options.Options(listen_host=host, listen_port=port, mode=[args.mode])
    master = DumpMaster(opts, with_termlog=True, with_dumper=False)
    master.addons.add(Recorder())
    settings = {
        "record_file": args.output,
        "record_filter": args.filter,
        "record_values": "raw" if args.raw_values else "hashed",
        "record_query": "keep" if args.keep_query else "drop",
    }
    if args.confdir:
        settings["confdir"] = args.confdir
    try:
        master.options.update(**settings)
    except exceptions.OptionsError as e:
        print(f"stickyguard: error: {e}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    print(f"stickyguard: recording {args.mode} traffic on {host}:{port} to {args.output}; Ctrl-C stops",
          file=sys.stderr)
    await master.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in PROXY_COMMANDS:
        return audit_cli.main(argv)
    args = build_parser().parse_args(argv[1:])
    try:
        listen_address(args.listen)
    except ValueError as e:
        print(f"stickyguard: error: {e}", file=sys.stderr)
        return 2
    return asyncio.run(record(args))


if __name__ == "__main__":
    sys.exit(main())
