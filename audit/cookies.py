"""A cookie observation: one Set-Cookie line as a browser would store it.

Parsing uses mitmproxy's cookie parser on one header line at a time (a browser takes one cookie
per Set-Cookie line; mitmproxy's Set-Cookie parser would split values at commas). Attribute names
are normalised to lower case and the last occurrence wins (RFC 6265 §5.3). Lifetime follows
RFC 6265 §5.2.1-5.2.2: Max-Age wins over Expires, and Expires counts from the response's Date.
Registrable domains come from tldextract's bundled public suffix list, never from the network.
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
import ipaddress
import re
import time
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

from mitmproxy.net.http import cookies as mitm_cookies

from stickyguard.audit import limits
from stickyguard.audit.records import Exchange

if TYPE_CHECKING:
    import tldextract

# RFC 6265bis "Cookie Lifetime Limits": user agents cap lifetimes at 400 days.
MAX_LIFETIME_CAP = 400 * 24 * 3600

FLAG_ATTRIBUTES = frozenset({"secure", "httponly", "partitioned"})
SAMESITE_VALUES = frozenset({"strict", "lax", "none"})


@dataclasses.dataclass(slots=True)
class CookieObservation:
    name: str
    value: str
    attributes: dict[str, Any]
    set_cookie: str
    url: str
    scheme: str
    host: str
    site: str
    top_level_site: str | None
    third_party: bool | None
    lifetime_seconds: int | None
    domain_scope: str
    samesite: str
    prefix_problems: list[str]
    source: str
    place: str
    # What the lifetime counts from: "Max-Age" (from receipt), else what an Expires is measured against:
    # "response Date", "capture time" or "audit time" (pasted headers with no date).
    lifetime_reference: str = "response Date"
    # Filled in by the catalog and its decoders.
    vendor: str | None = None
    vendor_name: str | None = None
    affinity: bool = False
    classified_by: str | None = None
    decoded: dict[str, Any] | None = None
    classified: bool = False  # facts came with the capture (a recording), not from the catalog

    @property
    def persistent(self) -> bool:
        return self.lifetime_seconds is not None and self.lifetime_seconds > 0

    @property
    def deletes(self) -> bool:
        """A Set-Cookie that removes the cookie (Max-Age<=0 or Expires in the past)."""
        return self.lifetime_seconds is not None and self.lifetime_seconds <= 0

    @property
    def expiry(self) -> str | None:
        """"deleted" (the deletion idiom: Max-Age<=0, an Expires before 2000, an empty or "deleted"
        value: the browser stores nothing), "expired" (a real value whose Expires had passed: it was
        sent all the same, and old captures hold many) or None for a cookie that lives."""
        if not self.deletes:
            return None
        if self.lifetime_reference == "Max-Age" or self.value.lower() in ("", "deleted"):
            return "deleted"
        when = parse_cookie_date(str(self.attributes.get("expires", "")))
        return "deleted" if when is not None and when < DELETION_BEFORE else "expired"

    @property
    def effective_lifetime_seconds(self) -> int | None:
        if self.lifetime_seconds is None:
            return None
        return min(self.lifetime_seconds, MAX_LIFETIME_CAP)


def observe(exchange: Exchange, now: float | None = None, lines: list[str] | None = None) -> list[CookieObservation]:
    """Every cookie the exchange's response sets (`lines`: its Set-Cookie lines, when already split)."""
    if lines is None:
        lines = exchange.set_cookie_lines()
    lines = lines[: limits.MAX_SET_COOKIES]  # the engine reports the cut
    if not lines:
        return []
    scheme, host = scheme_and_host(exchange.url)
    site = registrable_domain(host)
    top = exchange.top_level_url
    top_site = (site if top == exchange.url else _site_of_url(top)) if top else None
    date = exchange.response_header("date")
    reference = parse_cookie_date(date) if date else None
    reference_name = "response Date"
    if reference is None and exchange.timestamp is not None:
        reference, reference_name = exchange.timestamp, "capture time"
    if reference is None:
        reference, reference_name = (now or time.time()), "audit time"
    out = []
    facts = exchange.cookie_facts or ()
    for index, line in enumerate(lines):
        parsed = parse_set_cookie(line)
        if parsed is None:
            continue
        name, value, attrs = parsed
        domain = attrs.get("domain")
        max_age = _max_age(attrs)
        obs = CookieObservation(
                name=name,
                value=value,
                attributes=attrs,
                set_cookie=line,
                url=exchange.url,
                scheme=scheme,
                host=host,
                site=site,
                top_level_site=top_site or None,
                third_party=(site != top_site) if top_site else None,
                lifetime_seconds=max_age if max_age is not None else _expires_in(attrs, reference),
                domain_scope=domain_scope(host, domain),
                samesite=samesite_state(attrs),
                prefix_problems=prefix_problems(name, attrs, scheme),
                source=exchange.source,
                place=exchange.place,
                lifetime_reference="Max-Age" if max_age is not None else reference_name,
            )
        known = facts[index] if index < len(facts) else None
        if known is not None:
            for key, val in known.items():
                setattr(obs, key, val)
            obs.classified = True
        out.append(obs)
    return out


_PLAIN_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@\[\]:]*)(?::\d*)?(?:[/?#]|$)")


def scheme_and_host(url: str) -> tuple[str, str]:
    """Lower-cased scheme and host of a URL; a regex for the common case, urlsplit for the rest."""
    m = _PLAIN_URL.match(url)
    if m:
        return m.group(1).lower(), m.group(2).lower()
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:
        return "", ""


def cookie_pairs(line: str) -> list[tuple[str, str]]:
    """The name=value pairs of a Cookie or Set-Cookie line, as mitmproxy's `parse_cookie_header` reads them.
    Without a double quote its reading is: split at `;`, the key up to the first `=` (left-stripped), the
    rest the value, empty pairs dropped; that is done here in C-speed string methods, a fifth of the cost
    of mitmproxy's reader, which goes a character at a time. Quoted values go to mitmproxy's reader."""
    if '"' in line:
        return [(k, v) for k, v in mitm_cookies.parse_cookie_header(line)]
    pairs = []
    for part in line.split(";"):
        key, _, value = part.partition("=")
        key = key.lstrip()
        if key or value:
            pairs.append((key, value))
    return pairs


@functools.lru_cache(maxsize=8192)  # the same Set-Cookie line comes back on many responses
def parse_set_cookie(line: str) -> tuple[str, str, dict[str, Any]] | None:
    """(name, value, attributes) of one Set-Cookie line, or None when a browser would ignore it.

    The result is cached and shared: treat the attributes as read-only."""
    pairs = cookie_pairs(line.strip())
    if not pairs:
        return None
    name, value = pairs[0][0].strip(), pairs[0][1].strip()
    if not name and not value:
        return None
    attrs: dict[str, Any] = {}
    for key, val in pairs[1:]:
        key = key.strip().lower()
        if not key:
            continue
        if key in FLAG_ATTRIBUTES:
            attrs[key] = True
        elif key == "domain":
            domain = val.strip().lstrip(".").lower()
            if domain:  # an empty Domain is ignored (RFC 6265 §5.2.3)
                attrs[key] = domain
        else:
            attrs[key] = val.strip()
    return name, value, attrs


MAX_MAX_AGE = 10**15  # seconds; a longer Max-Age is read as this (RFC 6265 caps it at 400 days anyway)
DELETION_BEFORE = 946684800  # an Expires before 2000 is the deletion idiom (01-Jan-1970), not a lapsed value


_INTEGER = re.compile(r"-?\d+")


def _max_age(attrs: dict[str, Any]) -> int | None:
    """The Max-Age a browser would honour, in seconds (negative as 0), or None when there is none."""
    max_age = attrs.get("max-age")
    if isinstance(max_age, str) and _INTEGER.fullmatch(max_age):
        if len(max_age.lstrip("-")) > 15:  # past any date (and past Python's int() digit limit at 4,300)
            return 0 if max_age.startswith("-") else MAX_MAX_AGE
        return max(int(max_age), 0)
    return None


def lifetime(attrs: dict[str, Any], reference: float) -> int | None:
    """Seconds from `reference` until expiry, or None for a session cookie."""
    max_age = _max_age(attrs)
    return max_age if max_age is not None else _expires_in(attrs, reference)


def _expires_in(attrs: dict[str, Any], reference: float) -> int | None:
    expires = attrs.get("expires")
    if isinstance(expires, str):
        when = parse_cookie_date(expires)
        if when is not None:
            return max(int(when - reference), 0)
    return None


_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@functools.lru_cache(maxsize=2048)  # captures repeat the same Date and Expires values a lot
def parse_cookie_date(text: str) -> float | None:
    """RFC 6265 §5.1.1, the lenient algorithm browsers use (RFC 1123, RFC 850, asctime, ...)."""
    hms, day, month, year = _date_tokens(text)
    if hms is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    h, mi, s = hms
    if not (1 <= day <= 31 and year >= 1601 and h <= 23 and mi <= 59 and s <= 59):
        return None
    try:
        return float(calendar.timegm((year, month, day, h, mi, s, 0, 0, 0)))
    except (OverflowError, ValueError):
        return None


def _date_tokens(text: str) -> tuple[tuple[int, ...] | None, int | None, int | None, int | None]:
    """The time, day of month, month and year tokens of a cookie date, each the first that fits (§5.1.1)."""
    hms: tuple[int, ...] | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    for token in _DELIMITERS.split(text):
        if not token:
            continue
        if hms is None:
            m = re.match(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D|$)", token)
            if m:
                hms = tuple(int(g) for g in m.groups())
                continue
        if day is None:
            m = re.match(r"(\d{1,2})(?:\D|$)", token)
            if m:
                day = int(m.group(1))
                continue
        if month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
            continue
        if year is None:
            m = re.match(r"(\d{2,4})(?:\D|$)", token)
            if m:
                year = int(m.group(1))
                continue
    return hms, day, month, year


def samesite_state(attrs: dict[str, Any]) -> str:
    value = attrs.get("samesite")
    if value is None:
        return "missing"
    value = str(value).lower()
    return value if value in SAMESITE_VALUES else "invalid"


def domain_scope(host: str, domain: str | None) -> str:
    """How far the Domain attribute widens the cookie (RFC 6265 §5.3 steps 4-6, 6265bis step 9-10).

    host-only: no Domain, or Domain is the host's own IP address (it has no subdomains); host: Domain
    is the host itself (still sent to its subdomains);
    parent: a parent below the registrable domain; registrable: the registrable domain (every
    subdomain of the site); public-suffix / foreign: browsers reject the cookie.
    """
    if not domain:
        return "host-only"
    if domain != host and is_public_suffix(domain):
        return "public-suffix"
    if _is_ip(host):
        return "host-only" if domain == host else "foreign"  # an address has no subdomains to widen to
    if domain != host and not host.endswith("." + domain):
        return "foreign"
    if domain == registrable_domain(host):
        return "registrable"
    return "host" if domain == host else "parent"


def prefix_problems(name: str, attrs: dict[str, Any], scheme: str) -> list[str]:
    """What a cookie-name prefix requires and this Set-Cookie lacks (6265bis, matched case-insensitively)."""
    lower = name.lower()
    problems = []
    if lower.startswith(("__secure-", "__host-", "__http-")):
        if not attrs.get("secure"):
            problems.append("lacks Secure")
        if scheme != "https":
            problems.append("is set over plain HTTP")
    if lower.startswith("__host-"):
        if "domain" in attrs:
            problems.append("has a Domain attribute")
        if attrs.get("path") != "/":
            problems.append("does not have Path=/")
    if lower.startswith(("__http-", "__host-http-")) and not attrs.get("httponly"):
        problems.append("lacks HttpOnly")
    return problems


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # Loaded with the first host, not at start: its import (requests, urllib3) and suffix trie take about
    # 0.13 s, which an audit with no cookie, `--help` and the proxy's start need not pay.
    import tldextract

    # suffix_list_urls=() and no cache: the snapshot bundled with tldextract, never a download.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


@functools.lru_cache(maxsize=4096)  # hosts repeat; a name's ValueError costs more than the lookup
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The registrable domain (eTLD+1) of a host; IP addresses and bare names stand for themselves."""
    host = host.lower().rstrip(".")
    if not host or _is_ip(host):
        return host
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    if not parts.suffix and "." in host:
        # The list's implicit "*" rule: an unlisted top-level label is a public suffix.
        return ".".join(host.split(".")[-2:])
    return host


@functools.lru_cache(maxsize=1024)
def _site_of_url(url: str) -> str:
    return registrable_domain(scheme_and_host(url)[1])


@functools.lru_cache(maxsize=4096)
def is_public_suffix(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    if _is_ip(domain):
        return False
    parts = _extractor()(domain)
    if not parts.suffix:
        return "." not in domain  # the implicit "*" rule
    return not parts.domain
