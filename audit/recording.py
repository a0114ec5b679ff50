"""The recorder's line format: one JSON object per exchange, described by recording.schema.json.

`record()` builds a line from what the proxy saw, keeping only what an audit needs and, by
default, no raw cookie value and no client address: values become a keyed hash, and what a
decoder can read is stored as the decoded evidence (with the cookie's classification), so an
audit of the recording finds what an audit of the traffic finds. `exchange()` turns a line back
into the `Exchange` the audit pipeline reads.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import clock
from stickyguard.audit import cookies
from stickyguard.audit.records import Exchange
from stickyguard.audit.records import visible_data

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("recording.schema.json")
# Response headers that name or betray the backend that answered.
BACKEND_HEADERS = frozenset(("server", "via", "x-served-by", "x-server", "x-host", "x-node", "x-instance", "x-pod",
                             "x-upstream", "x-real-server", "x-forwarded-server", "x-powered-by", "x-cache"))
BACKEND_PREFIXES = ("x-backend",)


def keyed_hash(key: bytes, text: str) -> str:
    return "hmac-sha256:" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


@functools.lru_cache(maxsize=4096)  # a live recorder sees the same clients again and again
def truncate_address(ip: str) -> str:
    """The /24 of an IPv4 address or the /48 of an IPv6 address, as NGINX's ip_hash keys IPv4."""
    addr = ipaddress.ip_address(ip)
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def drop_query_values(url: str) -> str:
    """The URL without what identifies a user: query values, path parameter values (`;jsessionid=...`),
    path segments that hold an e-mail address or a token-length run (shown as `~`), query parts with
    no name (`?alice@example.com`), the fragment and any user:password. Plain names stay, so an audit
    still sees what was there."""
    if not _MAY_IDENTIFY.search(url) and not _PRIVATE_SEGMENT.search(url):
        return url  # the common case, without taking the URL apart
    parts = urlsplit(url)
    path = _PATH_PARAM.sub(lambda m: f";{m.group(1)}=", parts.path)
    path = "/".join("~" if _PRIVATE_SEGMENT.search(segment) else segment for segment in path.split("/"))
    names = [name for name, eq, _ in (p.partition("=") for p in parts.query.split("&"))
             if eq and _QUERY_NAME.fullmatch(name)]
    query = urlencode([(name, "") for name in names])
    netloc = parts.netloc.rpartition("@")[2]
    if (path, query, netloc) == (parts.path, parts.query, parts.netloc) and not parts.fragment:
        return url
    return urlunsplit((parts.scheme, netloc, path, query, ""))


_MAY_IDENTIFY = re.compile(r"[?;#@]")
_PATH_PARAM = re.compile(r";([^;=/]*)=[^;/]*")
_PRIVATE_SEGMENT = re.compile(r"@|%40|[A-Za-z0-9_=+-]{24,}", re.IGNORECASE)
_QUERY_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
# Evidence that names a person or may carry a token: kept as a keyed hash, its key saying what it was.
_PRIVATE_EVIDENCE = ("email", "jwt_personal_claims")


def private_evidence(decoded: dict[str, Any] | None, key: bytes) -> dict[str, Any] | None:
    """What a recording keeps of decoded evidence: e-mail addresses as keyed hashes, URLs without the
    values of their query and path parameters; addresses, ports and names as they are."""
    if not decoded:
        return decoded
    kept = dict(decoded)
    for name in _PRIVATE_EVIDENCE:
        if isinstance(kept.get(name), str):
            kept[name] = keyed_hash(key, kept[name])
    if isinstance(kept.get("url"), str):
        kept["url"] = drop_query_values(kept["url"])
    return kept


def record(
    exchange: Exchange,
    catalog: catalog_mod.Catalog,
    key: bytes,
    raw_values: bool = False,
    keep_query: bool = False,
    client_ip: str | None = None,
    tls: bool | None = None,
    server_port: int | None = None,
) -> dict[str, Any] | None:
    """The line for one exchange, or None when it carries no cookie or affinity signal."""
    set_cookies = []
    for line in exchange.set_cookie_lines():
        parsed = cookies.parse_set_cookie(line)
        if parsed is None:
            continue
        name, value, _ = parsed
        attributes = line.split(";", 1)[1].strip() if ";" in line else ""
        facts = catalog_mod.classify_and_decode(catalog, name, value)
        if not raw_values:
            facts["decoded"] = private_evidence(facts["decoded"], key)
        set_cookies.append({
            "name": name,
            "value": value if raw_values else keyed_hash(key, value),
            "attributes": attributes,
            **facts,
        })
    request_cookies: list[str] = []
    fetch_site = None
    for k, v in exchange.request_headers:  # one pass over each side's headers: this runs per response
        low = k.lower()
        if low == "cookie":
            request_cookies += _cookie_names(v)
        elif low == "sec-fetch-site" and fetch_site is None:
            fetch_site = v
    backend = {}
    date = None
    for k, v in exchange.response_headers:
        low = k.lower()
        if low in BACKEND_HEADERS or low.startswith(BACKEND_PREFIXES):
            backend[low] = v
        elif low == "date" and date is None:
            date = v
    if not set_cookies and not request_cookies and not backend:
        return None
    when = exchange.timestamp
    return {
        "v": VERSION,
        "time": clock.utc_iso(when, "milliseconds")
        if when is not None else None,
        "method": exchange.method,
        "url": exchange.url if keep_query else drop_query_values(exchange.url),
        "status": exchange.status,
        "tls": tls,
        "date": date,
        # Often a Referer, whose query can hold tokens and e-mail addresses.
        "top_level_url": drop_query_values(exchange.top_level_url) if exchange.top_level_url and not keep_query
        else exchange.top_level_url,
        "sec_fetch_site": fetch_site,
        "server": {"address": exchange.server_ip, "port": server_port} if exchange.server_ip else None,
        "client": _client_hash(key, client_ip) if client_ip else None,
        "request_cookies": request_cookies,
        "set_cookies": set_cookies,
        "backend_headers": backend,
    }


@functools.lru_cache(maxsize=4096)  # a client sends the same Cookie header request after request
def _cookie_names(header: str) -> tuple[str, ...]:
    return tuple(n for n, _ in cookies.cookie_pairs(header) if n)


@functools.lru_cache(maxsize=4096)
def _client_hash(key: bytes, ip: str) -> str:
    return keyed_hash(key, truncate_address(ip))


def exchange(line: dict[str, Any], source: str, place: str) -> Exchange:
    """The audit's view of one recorded line. Raises ValueError, naming the field, on a line that does
    not follow recording.schema.json."""
    if not isinstance(line, dict) or line.get("v") != VERSION:
        raise ValueError(f"unknown recording version {line.get('v') if isinstance(line, dict) else line!r}")
    errors = list(_validator().iter_errors(line))
    from jsonschema.exceptions import best_match  # loaded with the first recording, not by every audit

    problem = next((e for e in errors if e.validator == "required"), None) or best_match(errors)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path)
        if problem.validator == "required":
            missing = [f for f in problem.validator_value if f not in problem.instance]
            raise ValueError(f"{where + ': ' if where else ''}missing {', '.join(missing)}")
        raise ValueError(f"{where or 'the line'}: {problem.message[:200]}")
    headers = [("Set-Cookie", f"{c['name']}={c['value']}" + (f"; {c['attributes']}" if c["attributes"] else ""))
               for c in line["set_cookies"]]
    if line.get("date"):
        headers.append(("Date", line["date"]))
    headers += [(k, v) for k, v in line.get("backend_headers", {}).items()]
    when = line.get("time")
    ex = Exchange(
        url=line["url"],
        method=line["method"],
        status=line["status"],
        request_headers=[("Cookie", "; ".join(f"{n}=" for n in line.get("request_cookies", [])))]
        if line.get("request_cookies") else [],
        response_headers=headers,
        timestamp=clock.parse_utc_iso(when) if when else None,
        top_level_url=line.get("top_level_url"),
        source=source,
        place=place,
        server_ip=(line.get("server") or {}).get("address"),
    )
    ex.cookie_facts = [{k: visible_data(c.get(k)) for k in catalog_mod.FACT_KEYS} for c in line["set_cookies"]]
    return ex


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema())
