"""Look inside any cookie value for what it should not carry, vendor or not.

The value is read as is, URL-decoded, base64/base64url-decoded and hex-decoded (a decoding
counts only when it gives printable text), and each reading is searched for network addresses
(classified), `host:port`, URLs, internal host names, e-mail addresses and JWTs (whose payload
is decoded without verifying). Random session ids, timestamps and version strings must not
raise alarms: a bare public IPv4 literal without a port is taken for a version string.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from urllib.parse import unquote

from stickyguard.audit import limits
from stickyguard.audit.decoders import address_class
from stickyguard.audit.decoders import b64decode_loose
from stickyguard.audit.evidence import Decoded

# Claims that name or reach a person (RFC 7519 §4, OpenID Connect Core §5.1).
PERSONAL_CLAIMS = ("email", "name", "given_name", "family_name", "preferred_username", "phone_number",
                   "address", "birthdate", "ip", "nickname", "upn", "unique_name")
INTERNAL_SUFFIXES = ("local", "internal", "corp", "lan", "intranet", "localdomain", "home.arpa", "private")

_IPV4 = re.compile(r"(?<![\d.])((?:\d{1,3}\.){3}\d{1,3})(?::(\d{1,5}))?(?![\d.])")
_IPV6_BRACKET = re.compile(r"\[([0-9A-Fa-f:.]{2,45})\](?::(\d{1,5}))?")
# A bare IPv6 literal is a maximal run of hex digits and colons; which runs are addresses is decided
# in Python (_bare_ipv6), not by a pattern that could backtrack on a hostile value.
_HEX_COLON_RUN = re.compile(r"[0-9A-Fa-f:]{3,}")
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")
_URL = re.compile(r"\b(https?|wss?)://([^/\s\"'<>?#]+)[^\s\"'<>]*", re.IGNORECASE)
_HOST_PORT = re.compile(r"(?<![\w.@-])([A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*):(\d{2,5})(?![\w.])")
_INTERNAL_HOST = re.compile(
    r"(?<![\w.@-])((?:[A-Za-z0-9-]+\.)+(?:" + "|".join(re.escape(s) for s in INTERNAL_SUFFIXES) + r"))(?![\w-])",
    re.IGNORECASE,
)
# The look-behind covers every character the local part may hold, so each run is tried once (linear time).
_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}(?![\w-])")
_JWT = re.compile(r"^(eyJ[A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$")
_B64 = re.compile(r"^[A-Za-z0-9+/_-]{8,}={0,2}$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2}){4,}$")
_PRINTABLE = re.compile(r"^[\x20-\x7e\t\r\n]+$")


def readings(value: str) -> list[tuple[str, str]]:
    """(encoding, text) pairs: the value itself and each decoding that yields printable text."""
    value = value.strip().strip('"')
    out = [("plain", value)]
    if "%" in value:
        decoded = unquote(value)
        if decoded != value:
            out.append(("url", decoded))
    if _HEX.match(value):
        text = _printable(bytes.fromhex(value))
        if text:
            out.append(("hex", text))
    elif _B64.match(value):
        text = _printable(b64decode_loose(value))
        if text:
            out.append(("base64", text))
    return out


def _printable(raw: bytes | None) -> str | None:
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if _PRINTABLE.match(text) and len(text) >= 4 else None


def find(value: str) -> Decoded | None:
    """What the value reveals, as a decoded object (`ip`, `port`, `url`, `host`, `email`,
    `jwt_claims`, `encoding`), or None when it reveals nothing we look for."""
    jwt = _jwt(value.strip().strip('"'))
    if jwt is not None:
        return jwt
    merged: Decoded = {}
    for encoding, text in readings(value):
        found = _scan(text)
        if found and not merged:
            merged["encoding"] = encoding
            merged["confidence"] = "high" if encoding == "plain" else "medium"
        for key, val in found.items():
            merged.setdefault(key, val)
    return merged or None


def _scan(text: str) -> Decoded:
    # Each pattern runs only on a text holding the character it cannot match without ("://" for a URL,
    # "." for a dotted quad or a dotted name, ":" for a port or IPv6, "@" for an e-mail): most values hold
    # none of them, and the result is the same.
    found: Decoded = {}
    if "://" in text:
        for url in _URL.finditer(text):
            host, _, port = url.group(2).rpartition(":") if not url.group(2).endswith("]") else (url.group(2), "", "")
            host = (host or url.group(2)).strip("[]").lower()
            if _is_ip(host) or _is_internal_name(host):
                found["url"] = url.group(0)
                _add_address(found, host, port if port.isdigit() else None, strict=False)
                break
        # A URL on a public name (a return URL, the site's own page) names no server behind the site.
        text = _URL.sub(lambda m: m.group(0) if m.group(0) == found.get("url") else " ", text)
    _first_addresses(found, text)
    if "ip" not in found and "host" not in found and ":" in text:
        m = _HOST_PORT.search(text)
        if m and not m.group(1).isdigit() and int(m.group(2)) < 2**16 and _looks_like_host(m.group(1)):
            found.update(host=m.group(1).lower(), port=int(m.group(2)))
    m = _INTERNAL_HOST.search(text) if "." in text else None
    if m and "host" not in found:
        found["host"] = m.group(1).lower()
    if "host" in found:
        found["internal_host"] = _is_internal_name(found["host"])
    m = _EMAIL.search(text) if "@" in text else None
    if m:
        found["email"] = m.group(0)
    return found


def _first_addresses(found: Decoded, text: str) -> None:
    """The first IPv4, bracketed IPv6 and bare IPv6 literal in the text that counts (see _add_address)."""
    for m in _IPV4.finditer(text) if "." in text else ():
        if _add_address(found, m.group(1), m.group(2), strict=not m.group(2)):
            break
    if ":" not in text:
        return
    for m in _IPV6_BRACKET.finditer(text):
        if _is_ip(m.group(1)) and _add_address(found, m.group(1), m.group(2), strict=False):
            break  # "[CE]" in an Adobe id is not a host
    for run in _bare_ipv6(text):
        if _add_address(found, run, None, strict=True):
            break


def _bare_ipv6(text: str) -> Iterator[str]:
    """Runs of hex digits and colons shaped like an IPv6 literal: 3 to 8 groups of 1-4 hex digits, or
    groups followed by `::` (the address itself is checked by ipaddress)."""
    for m in _HEX_COLON_RUN.finditer(text):
        run = m.group(0)
        if run.count(":") < 2 or run.startswith(":"):
            continue
        head, double, _ = run.partition("::")
        groups = head.split(":")
        if double:
            if head and all(_HEX_GROUP.fullmatch(g) for g in groups):
                yield run
        elif 3 <= len(groups) <= 8 and all(_HEX_GROUP.fullmatch(g) for g in groups):
            yield run


def _add_address(found: Decoded, host: str, port: str | None, strict: bool) -> bool:
    """Record an IP literal; with `strict`, a public address needs a port to count (a bare
    public dotted quad is more often a version string than an address)."""
    if "ip" in found:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host and not strict and "host" not in found and _looks_like_host(host):
            found["host"] = host.lower()
            if port:
                found["port"] = int(port)
        return False
    klass = address_class(str(ip))
    if strict and klass in ("public", "documentation", "reserved") and port is None:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and str(ip).startswith("0."):
        return False
    found["ip"] = str(ip)
    found["address_class"] = klass
    if port and int(port) < 2**16:
        found["port"] = int(port)
    return True


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _looks_like_host(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", name)) and not name.replace(".", "").isdigit()


def _is_internal_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return "." not in host or host.endswith(tuple("." + s for s in INTERNAL_SUFFIXES)) or host == "localhost"


def _jwt(value: str) -> Decoded | None:
    m = _JWT.match(value)
    if not m:
        return None
    try:
        header = limits.loads(b64decode_loose(m.group(1)) or b"")
        payload = limits.loads(b64decode_loose(m.group(2)) or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or "alg" not in header or not isinstance(payload, dict):
        return None
    personal = [c for c in PERSONAL_CLAIMS if payload.get(c)]
    sub = payload.get("sub")
    if isinstance(sub, str) and _EMAIL.fullmatch(sub):
        personal.append("sub")
    decoded: Decoded = {"jwt_alg": str(header["alg"]), "jwt_claims": ", ".join(sorted(payload))}
    if personal:
        decoded["jwt_personal_claims"] = ", ".join(personal)
    email = next((payload[c] for c in ("email", "sub", "upn") if isinstance(payload.get(c), str)
                  and _EMAIL.fullmatch(payload[c])), None)
    if email:
        decoded["email"] = email
    decoded["encoding"] = "jwt"
    decoded["confidence"] = "high"
    return decoded
