"""What the EDPS Website Evidence Collector (WEC) leaves in its output folder, as exchanges the audit judges.

WEC (https://github.com/EU-EDPS/website-evidence-collector, 1.x to 3.x) writes `requests.har` (chrome-har
through puppeteer-har) and `inspection.json`, whose `cookies` list is Chrome's cookie jar after the first
page (CDP Network.getAllCookies: name, value, domain without its leading dot, path, expires in seconds since
the epoch or -1, httpOnly, secure, sameSite), each with WEC's `log` of who set it: `type` Cookie.HTTP with
the response URL in `stack[0].fileName`, or Cookie.JS, and the top-level page in `location`.

The HAR's responses are read first. Its Set-Cookie headers are often missing (puppeteer-har does not listen
to Chrome's ExtraInfo events, which carry them), so every jar cookie no response in the HAR was seen
setting becomes an exchange of its own: a Set-Cookie line rebuilt from the jar's fields, from the URL that
set it, dated by WEC's own clock so its lifetime counts from when it was collected. A cookie set by a
script says so in its place. What the jar cannot say: whether a Domain attribute was given (WEC strips the
dot), so a cookie whose domain is its setter's host is taken as host-only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

from stickyguard.audit import clock
from stickyguard.audit.cookies import scheme_and_host
from stickyguard.audit.records import Exchange

INSPECTION = "inspection.json"
REQUESTS = "requests.har"
_START = re.compile(rb'^\s*\{\s*"(title|task_description|uri_ins)"\s*:')


def looks_like(head: bytes) -> bool:
    """An inspection.json: WEC's object starts with title, task_description or uri_ins, and has uri_ins."""
    return bool(_START.match(head)) and b'"uri_ins"' in head


def exchanges(doc: dict[str, Any], source: str, har: Iterable[Exchange] | None) -> Iterator[Exchange]:
    """The HAR's exchanges, then one per jar cookie no HAR response was seen setting."""
    set_by: dict[str, set[str]] = {}
    for exchange in har or ():
        host = scheme_and_host(exchange.url)[1]
        for line in exchange.set_cookie_lines():
            set_by.setdefault(line.split("=", 1)[0].strip(), set()).add(host)
        yield exchange
    collected = clock.iso_seconds(doc.get("start_time"))
    for index, cookie in enumerate(doc.get("cookies") or []):
        if not isinstance(cookie, dict) or not isinstance(cookie.get("name"), str) or not cookie["name"]:
            continue
        domain = str(cookie.get("domain") or "").lstrip(".").lower()
        if any(h == domain or h.endswith("." + domain) for h in set_by.get(cookie["name"], ())):
            continue  # the HAR holds the response that set it
        yield _jar_exchange(cookie, index, doc, source, collected)


def _jar_exchange(cookie: dict[str, Any], index: int, doc: dict[str, Any], source: str,
                  collected: float | None) -> Exchange:
    raw_log = cookie.get("log")
    log: dict[str, Any] = raw_log if isinstance(raw_log, dict) else {}
    stack = log.get("stack") if isinstance(log.get("stack"), list) else []
    frame = stack[0] if stack and isinstance(stack[0], dict) else {}
    domain = str(cookie.get("domain") or "").lstrip(".").lower()
    path = str(cookie.get("path") or "/")
    by_script = log.get("type") == "Cookie.JS"
    url = str(frame.get("fileName") or "")
    if by_script or not url.startswith(("http://", "https://")):
        url = f"https://{domain}{path}" if domain else str(doc.get("uri_ins") or "")
    page = log.get("location") if str(log.get("location") or "").startswith(("http://", "https://")) else None
    when = clock.iso_seconds(log.get("timestamp")) or collected
    headers = [("Set-Cookie", _set_cookie_line(cookie, domain, path, scheme_and_host(url)[1]))]
    if when is not None:
        headers.append(("Date", clock.http_date(when)))
    how = "set by a script" if by_script else "from the browser's cookie jar"
    return Exchange(
        url=url,
        method="GET",
        status=None,
        request_headers=[],
        response_headers=headers,
        timestamp=when,
        top_level_url=page or doc.get("uri_ins") or None,
        source=source,
        place=f"{INSPECTION}: cookies[{index}] ({how})",
    )


def _set_cookie_line(cookie: dict[str, Any], domain: str, path: str, host: str) -> str:
    parts = [f"{_safe(cookie['name'])}={_safe(str(cookie.get('value') or ''))}", f"Path={_safe(path)}"]
    if domain and domain != host:
        parts.append(f"Domain={_safe(domain)}")
    expires = cookie.get("expires")
    seconds = clock.iso_seconds(expires) if isinstance(expires, str) else expires
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0:
        parts.append(f"Expires={clock.http_date(seconds)}")
    if cookie.get("secure") is True:
        parts.append("Secure")
    if cookie.get("httpOnly") is True:
        parts.append("HttpOnly")
    if isinstance(cookie.get("sameSite"), str):
        parts.append(f"SameSite={_safe(cookie['sameSite'])}")
    if cookie.get("partitionKey"):
        parts.append("Partitioned")
    return "; ".join(parts)


def _safe(text: str) -> str:
    """A jar field inside a rebuilt Set-Cookie line: no character that would end it or start an attribute."""
    return re.sub(r"[;\r\n]", "", text)
