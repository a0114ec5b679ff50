"""Condition operators that rules may use in `match.all`, one function each.

Each takes the cookie observation, the operator's argument from the rule file and the audit
settings, and says whether the condition holds. `CONDITIONS` is the closed vocabulary; the
schema in rules/schema.json lists the same names (a test keeps the two equal).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from stickyguard.audit import evidence
from stickyguard.audit import leaks

if TYPE_CHECKING:
    from stickyguard.audit.cookies import CookieObservation

DEFAULT_MAX_LIFETIME = 24 * 3600  # PrivacyScore's short/long boundary; `--max-lifetime` changes it


@dataclasses.dataclass(frozen=True)
class Settings:
    max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME
    client_ip: str | None = None  # the client's address as the site saw it (`--client-ip`)
    # (host, cookie) pairs with which `stickyguard probe` sent a client to the backend it chose.
    steered: frozenset[tuple[str, str]] = frozenset()


DEFAULT_SETTINGS = Settings()


Condition = Callable[["CookieObservation", Any, Settings], bool]


def scheme(obs: CookieObservation, arg: str, settings: Settings) -> bool:
    return obs.scheme == arg


def attribute_missing(obs: CookieObservation, arg: str, settings: Settings) -> bool:
    return arg not in obs.attributes


def attribute_present(obs: CookieObservation, arg: str, settings: Settings) -> bool:
    return arg in obs.attributes


def samesite_in(obs: CookieObservation, arg: list[str], settings: Settings) -> bool:
    return obs.samesite in arg


def prefix_broken(obs: CookieObservation, arg: bool, settings: Settings) -> bool:
    return bool(obs.prefix_problems)


def domain_scope_in(obs: CookieObservation, arg: list[str], settings: Settings) -> bool:
    return obs.domain_scope in arg


def persistent(obs: CookieObservation, arg: bool, settings: Settings) -> bool:
    return obs.persistent == arg


def lifetime_over_seconds(obs: CookieObservation, arg: int, settings: Settings) -> bool:
    return obs.lifetime_seconds is not None and obs.lifetime_seconds > arg


def lifetime_over_budget(obs: CookieObservation, arg: bool, settings: Settings) -> bool:
    """`true`: the lifetime is past --max-lifetime; `false`: persistent, but within it."""
    if not obs.persistent:
        return False
    return (obs.lifetime_seconds > settings.max_lifetime_seconds) == arg  # type: ignore[operator]


def third_party(obs: CookieObservation, arg: bool, settings: Settings) -> bool:
    return obs.third_party is arg


# `decodes_to` arguments that fire when the value revealed any key of that evidence group.
_NAMED_GROUPS = ("pool-name", "server-name", "timing", "personal-data", "jwt-personal-claims")
# Every argument `decodes_to` understands; rules/schema.json lists the same (tests/audit/test_conditions.py).
DECODES_TO = (*_NAMED_GROUPS, "encrypted", "backend-url", "backend-hash", "keyed-hash", "internal-hostname",
              "port-only", "private-address", "public-address", "special-address", "any-address")


def decodes_to(obs: CookieObservation, arg: str, settings: Settings) -> bool:
    # The engine does not call this: it picks a cookie's candidate rules by its decoded tags (engine._RuleIndex).
    return arg in decoded_tags(obs.decoded)


# The evidence group of each decoded key, for the groups that are `decodes_to` arguments of their own.
_NAMED_GROUP_OF = {name: key.group for name, key in evidence.KEYS.items() if key.group in _NAMED_GROUPS}


def decoded_tags(decoded: evidence.Decoded | None) -> frozenset[str]:
    """Every `decodes_to` argument that holds for a decoded value, found in one pass over it."""
    if not decoded:
        return frozenset()
    tags = {_NAMED_GROUP_OF[key] for key, value in decoded.items()
            if key in _NAMED_GROUP_OF and value not in (None, "")}
    if decoded.get("encrypted"):
        tags.add("encrypted")
    if decoded.get("url"):
        tags.add("backend-url")
    if "hash" in decoded and "ip" not in decoded and _of_backend(decoded):
        tags.add("keyed-hash" if _unrecoverable(decoded) else "backend-hash")
    if decoded.get("internal_host"):
        tags.add("internal-hostname")
    has_port = decoded.get("port") is not None or decoded.get("vport") is not None
    if has_port and "ip" not in decoded and "host" not in decoded:
        tags.add("port-only")
    klass = decoded.get("address_class")
    if klass is not None:
        tags.add("any-address")
        if klass in evidence.INTERNAL_CLASSES:
            tags.add("private-address")
        if klass == "public":
            tags.add("public-address")
        if klass in evidence.SPECIAL_CLASSES:
            tags.add("special-address")
    return frozenset(tags)


def _of_backend(decoded: evidence.Decoded) -> bool:
    """The hash is over the backend's address or URL (not, say, an upstream's name)."""
    text = str(decoded.get("hash_of", ""))
    return any(word in text for word in ("ip:port", "address", "URL", "endpoint"))


def _unrecoverable(decoded: evidence.Decoded) -> bool:
    """A hash that takes a secret key or an unguessable salt: hashing addresses alone cannot reverse it."""
    return decoded.get("keyed") is True or bool(decoded.get("salt"))


def contains_client_ip(obs: CookieObservation, arg: bool, settings: Settings) -> bool:
    """The value holds the client's address: raw, truncated to its /24 (/48), or under an
    unkeyed md5/sha1/sha256, which anyone can reverse by hashing the whole IPv4 space."""
    if not settings.client_ip:
        return False
    return client_ip_in(obs.value, settings.client_ip) == arg


def client_steered(obs: CookieObservation, arg: bool, settings: Settings) -> bool:
    """The probe's tamper test: a value the client wrote to name another backend was obeyed."""
    return ((obs.host, obs.name) in settings.steered) == arg


CONDITIONS: dict[str, Condition] = {
    "scheme": scheme,
    "attribute_missing": attribute_missing,
    "attribute_present": attribute_present,
    "samesite_in": samesite_in,
    "prefix_broken": prefix_broken,
    "domain_scope_in": domain_scope_in,
    "persistent": persistent,
    "lifetime_over_seconds": lifetime_over_seconds,
    "lifetime_over_budget": lifetime_over_budget,
    "third_party": third_party,
    "decodes_to": decodes_to,
    "contains_client_ip": contains_client_ip,
    "client_steered": client_steered,
}


@functools.lru_cache(maxsize=16)
def _client_ip_needles(ip: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(texts to look for, digests the whole value may equal) for one client address."""
    addr = ipaddress.ip_address(ip)
    texts = [str(addr)]
    if addr.version == 4:
        texts.append(str(addr).rsplit(".", 1)[0] + ".")  # the /24, as NGINX ip_hash keys it
    else:
        texts.append(str(ipaddress.ip_network(f"{addr}/48", strict=False).network_address).rstrip(":") + ":")
    digests = []
    for name in ("md5", "sha1", "sha256"):
        raw = hashlib.new(name, str(addr).encode()).digest()
        digests.append(raw.hex())
        digests.append(base64.b64encode(raw).decode().rstrip("="))
        digests.append(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    return tuple(texts), tuple(digests)


def client_ip_in(value: str, ip: str) -> bool:
    texts, digests = _client_ip_needles(ip)
    for _, text in leaks.readings(value):
        if text.strip("=") in digests or text.lower() in digests:
            return True
        if any(_contains_address(text, t) for t in texts):
            return True
    return False


def _contains_address(text: str, needle: str) -> bool:
    """`needle` occurs in `text` not as part of a longer number (10.0.0.1 is not in 110.0.0.19)."""
    start = text.find(needle)
    while start != -1:
        before = text[start - 1] if start else ""
        after = text[start + len(needle)] if start + len(needle) < len(text) else ""
        if not (before.isdigit() or before == ".") and not (needle[-1].isdigit() and after.isdigit()):
            return True
        start = text.find(needle, start + 1)
    return False
