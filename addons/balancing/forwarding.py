"""What the balancer changes in a request on its way to a backend, and what it answers itself.

- The balancer's own cookie is taken out of the Cookie header (HAProxy's `indirect`): a backend has no
  use for it, and logging it there would spread a routing token. The rest of the header is kept byte
  for byte (mitmproxy's cookie writer would re-quote values and split at commas).
- X-Forwarded-For, -Proto and -Host tell the backend who asked, over what and for which host. A chain
  the client sent is kept and extended only when the peer is a trusted proxy; otherwise it is replaced,
  since a client can write anything there.
- The balancer's own error answers (no backend is up) name no backend, port or software version.
Plain logic, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

from stickyguard.addons.balancing.affinity import within_networks

FORWARDED = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host")
DEFAULT_ERROR_BODY = "The service is unavailable right now. Please try again in a moment."


def without_cookies(lines: Sequence[str], names: Iterable[str]) -> list[str]:
    """The Cookie header lines with the named cookies taken out; a line left empty is dropped."""
    drop = set(names)
    out = []
    for line in lines:
        kept = [pair for pair in line.split(";") if pair.split("=", 1)[0].strip() not in drop]
        text = ";".join(kept).strip(" ;")
        if text:
            out.append(text)
    return out


def forwarded_headers(peer: str, tls: bool, host: str, sent: dict[str, list[str]],
                      trusted: Iterable[str]) -> dict[str, str]:
    """X-Forwarded-For/-Proto/-Host for the backend. `sent`: what the request carried, by lower-case
    name; believed (and for X-Forwarded-For extended) only from a trusted peer."""
    from_trusted = within_networks(peer, trusted)
    chain = ", ".join(sent.get("x-forwarded-for", [])) if from_trusted else ""
    proto = sent.get("x-forwarded-proto", []) if from_trusted else []
    forwarded_host = sent.get("x-forwarded-host", []) if from_trusted else []
    return {
        "x-forwarded-for": f"{chain}, {peer}" if chain else peer,
        "x-forwarded-proto": proto[-1].split(",")[-1].strip() if proto else ("https" if tls else "http"),
        "x-forwarded-host": forwarded_host[-1] if forwarded_host else host,
    }


def error_headers(status: int) -> dict[str, str]:
    """The headers of the balancer's own 502 or 503 (a 503 says when to try again)."""
    headers = {"content-type": "text/plain; charset=utf-8", "cache-control": "no-store"}
    if status == 503:
        headers["retry-after"] = "5"
    return headers


def error_response(body: str) -> bytes:
    """The whole HTTP/1.1 answer the balancer's error responder sends: 503, the body, nothing else."""
    data = body.encode("utf-8")
    fields = {**error_headers(503), "content-length": str(len(data)), "connection": "close"}
    head = "HTTP/1.1 503 Service Unavailable\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("ascii") + data
