"""`stickyguard ctl`: the client of a running balancer's runtime API (addons/balancing/admin.py).

    stickyguard ctl --admin unix:/run/sg/admin.sock status
    stickyguard ctl --admin 127.0.0.1:9901 drain app2          # the token from ~/.stickyguard/admin-token
    stickyguard ctl status --json | set-weight app1 3 | undrain app2 | reload | metrics
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stickyguard.addons.balancing import admin

ADMIN_ENV = "STICKYGUARD_ADMIN"
TOKEN_ENV = "STICKYGUARD_ADMIN_TOKEN"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stickyguard ctl", description="Operate a running `stickyguard balance` "
                                     "through its runtime API (--admin).")
    parser.add_argument("--admin", default=os.environ.get(ADMIN_ENV), metavar="ADDR",
                        help=f"unix:PATH or 127.0.0.1:PORT, as given to the balancer (default: ${ADMIN_ENV})")
    parser.add_argument("--token-file", default="~/.stickyguard/admin-token", metavar="FILE",
                        help=f"the TCP API's token (default: ~/.stickyguard/admin-token; ${TOKEN_ENV} wins)")
    parser.add_argument("--json", action="store_true", help="print the balancer's answer as JSON")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the balancer (default: 10)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("status", help="backends, health, sessions, spread and routing counts")
    for name, text in (("drain", "take no new sessions on NAME"), ("undrain", "NAME takes new sessions again")):
        commands.add_parser(name, help=text).add_argument("name", metavar="NAME")
    commands.add_parser("reload", help="re-read the backends and the secrets")
    commands.add_parser("metrics", help="the Prometheus metrics, as /metrics serves them")
    weight = commands.add_parser("set-weight", help="NAME's weight for new sessions, until the next reload")
    weight.add_argument("name", metavar="NAME")
    weight.add_argument("weight", type=int, metavar="N")
    return parser


def request(args: argparse.Namespace) -> tuple[int, Any]:
    """(HTTP status, decoded JSON answer, or the metrics text) for the command in `args`."""
    method, path = "GET", "/status"
    if args.command in ("drain", "undrain"):
        method, path = "POST", f"/backends/{quote(args.name, safe='')}/{args.command}"
    elif args.command == "reload":
        method, path = "POST", "/reload"
    elif args.command == "set-weight":
        method, path = "POST", f"/backends/{quote(args.name, safe='')}/weight?value={args.weight}"
    elif args.command == "metrics":
        path = "/metrics"
    status, body = fetch(args.admin, method, path, args.token_file, args.timeout)
    if args.command == "metrics" and status == 200:
        return status, body.decode("utf-8")
    return status, json.loads(body or b"null")


def fetch(where: str, method: str, path: str, token_file: str = "~/.stickyguard/admin-token",
          timeout: float = 10.0) -> tuple[int, bytes]:
    """One request to the runtime API at `where` (unix:PATH or 127.0.0.1:PORT): (HTTP status, body)."""
    address = admin.parse_address(where)
    headers = {"Host": "stickyguard"}
    if address.kind == "tcp":
        token = os.environ.get(TOKEN_ENV) or Path(token_file).expanduser().read_text(encoding="utf-8").strip()
        headers["Authorization"] = f"Bearer {token}"
        conn: http.client.HTTPConnection = http.client.HTTPConnection(address.host, address.port, timeout=timeout)
    else:
        conn = _UnixConnection(address.path, timeout)
    try:
        conn.request(method, path, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def status_table(state: dict[str, Any]) -> str:
    from tabulate import tabulate

    rows = [[b["name"], ("up" if b["up"] else "down") + (", draining" if b["draining"] else ""), b["weight"],
             b["sessions"], b["requests"], b["in_flight"], f"{b['moved_in']}/{b['moved_out']}"]
            for b in state["backends"]]
    table = tabulate(rows, headers=["backend", "state", "weight", "sessions", "requests", "in flight",
                                    "moved in/out"], tablefmt="simple")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(state["counts"].items())) or "none yet"
    spread = state["spread"]
    return (f"{table}\n\naffinity {state['kind']}; spread max/mean {spread['max_mean']:.2f}, "
            f"Jain {spread['jain']:.3f}; decisions: {counts}\n"
            f"retried: {_listed(state['retries'])}; failed, not retried: {_listed(state['not_retried'])}\n")


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not args.admin:
        print(f"stickyguard ctl: error: give --admin unix:PATH or 127.0.0.1:PORT (or set ${ADMIN_ENV})",
              file=sys.stderr)
        return 2
    try:
        status, answer = request(args)
    except ValueError as e:
        print(f"stickyguard ctl: error: {e}", file=sys.stderr)
        return 2
    except (OSError, http.client.HTTPException) as e:
        print(f"stickyguard ctl: error: no balancer answered at {args.admin}: {e}", file=sys.stderr)
        return 1
    if status != 200:
        message = answer.get("error") if isinstance(answer, dict) else answer
        print(f"stickyguard ctl: the balancer said {status}: {message}", file=sys.stderr)
        return 1
    if args.command == "metrics":
        sys.stdout.write(answer)
        return 0
    state = answer["status"] if args.command != "status" else answer
    sys.stdout.write(json.dumps(answer, indent=2) + "\n" if args.json else status_table(state))
    return 0
