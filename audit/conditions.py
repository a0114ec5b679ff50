"""Condition operators that rules may use in `match.all`, one function each.

Each takes the cookie observation, the operator's argument from the rule file and the audit
settings, and says whether the condition holds. `CONDITIONS` is the closed vocabulary; the
schema in rules/schema.json lists the same names (a test keeps the two equal).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from audit.cookies import CookieObservation

DEFAULT_MAX_LIFETIME = 24 * 3600  # PrivacyScore's short/long boundary; `--max-lifetime` changes it


@dataclasses.dataclass(frozen=True)
class Settings:
    max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME


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
    return obs.lifetime_seconds is not None and obs.lifetime_seconds > settings.max_lifetime_seconds


def third_party(obs: CookieObservation, arg: bool, settings: Settings) -> bool:
    return obs.third_party is arg


_INTERNAL = frozenset({"private", "loopback", "link-local", "shared", "documentation", "reserved"})


def decodes_to(obs: CookieObservation, arg: str, settings: Settings) -> bool:
    decoded = obs.decoded
    if not decoded:
        return False
    if arg == "encrypted":
        return bool(decoded.get("encrypted"))
    if arg == "pool-name":
        return bool(decoded.get("pool"))
    klass = decoded.get("address_class")
    if klass is None:
        return False
    if arg == "private-address":
        return klass in _INTERNAL
    if arg == "public-address":
        return klass == "public"
    return arg == "any-address"


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
}
