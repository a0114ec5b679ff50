"""Which balancer set a cookie, from `rules/affinity-cookies.yaml`.

A cookie is matched first by exact name, then by name prefix, then by name regex, then by a
value format alone (operators rename BIG-IP and NetScaler cookies), and last by the heuristic
for affinity cookies no entry names. A match may name a decoder, which reads what the value leaks.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
from typing import Any

from stickyguard.audit import datafiles
from stickyguard.audit import decoders
from stickyguard.audit import leaks
from stickyguard.audit import limits

COOKIE_CLASSES = frozenset({"affinity", "other", "any"})


@dataclasses.dataclass(frozen=True)
class Vendor:
    id: str
    name: str
    managed: bool
    references: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class _Pattern:
    vendor: Vendor
    name: str | None
    prefix: str | None
    pattern: re.Pattern | None
    value: re.Pattern | None
    decoder: str | None
    affinity: bool = True  # False for a vendor's cookies that do not route (a gateway's login session)

    def matches_name(self, name: str) -> bool:
        if self.name is not None:
            return name == self.name
        if self.prefix is not None:
            return name.startswith(self.prefix)
        if self.pattern is not None:
            return bool(self.pattern.search(name))
        return True



@dataclasses.dataclass(frozen=True)
class Classification:
    vendor: Vendor | None
    affinity: bool
    by: str  # "name and value", "name", "value" or "heuristic": what the attribution rests on
    decoder: str | None
    reading: dict[str, Any] | None = None  # the decoder's reading, when recognising the value took one


_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


class Catalog:
    def __init__(self, vendors: list[Vendor], patterns: list[_Pattern], tokens: set[str]):
        self.vendors = {v.id: v for v in vendors}
        self._patterns = patterns
        self._by_name: dict[str, list[_Pattern]] = {}
        self._by_shape: list[_Pattern] = []
        self._by_value: list[_Pattern] = []
        for p in patterns:
            if p.name is not None:
                self._by_name.setdefault(p.name, []).append(p)
            elif p.prefix is not None or p.pattern is not None:
                self._by_shape.append(p)
            else:
                self._by_value.append(p)
        # Cookie names repeat and values do not: memoise by name, per catalog (a cache on the method
        # would keep every catalog alive).
        self._named = functools.lru_cache(maxsize=4096)(self._named_uncached)
        self._looks_like_affinity = functools.lru_cache(maxsize=4096)(self._looks_like_affinity_uncached)
        self._tokens = frozenset(tokens)
        # A capture sends the same cookie value on many responses: read each (name, value) once.
        self.facts = functools.lru_cache(maxsize=4096)(lambda name, value: classify_and_decode(self, name, value))

    def cookie_classes(self) -> set[str]:
        """What a rule's `match.cookie` may say."""
        return set(COOKIE_CLASSES) | set(self.vendors)

    def classify(self, name: str, value: str) -> Classification | None:
        """Who set the cookie. A pattern that constrains both name and value decides first (several
        vendors share SERVERID, INGRESSCOOKIE, JSESSIONID: the value's shape tells them apart); then
        a vendor's value signature, checked by its decoder, under any name, which outranks a match on
        the name alone of another vendor (renamed BIG-IP cookies, a BIG-IP value under SERVERID); then
        the name alone; then the word heuristic."""
        unquoted = value.strip('"')
        named = self._named(name)
        name_only = None
        for p in named:
            if p.value is None:
                name_only = name_only or p
            elif p.value.search(unquoted):
                return Classification(p.vendor, p.affinity, "name and value", p.decoder)
        signature = self._signature(name, unquoted)
        if signature is not None:
            p, reading = signature
            if name_only is not None and name_only.vendor is p.vendor:  # the name's own decoder reads it whole
                # Its reading of the same text is the one just made: not decoded twice.
                same = name_only.decoder == p.decoder and unquoted == value
                return Classification(p.vendor, name_only.affinity, "name and value", name_only.decoder,
                                      reading if same else None)
            return Classification(p.vendor, p.affinity, "value", p.decoder, reading)
        if name_only is not None:
            return Classification(name_only.vendor, name_only.affinity, "name", name_only.decoder)
        if self._looks_like_affinity(name):
            return Classification(None, True, "heuristic", None)
        return None

    def _signature(self, name: str, value: str) -> tuple[_Pattern, dict[str, Any] | None] | None:
        """The first value-only pattern whose regex matches and whose decoder (if any) reads the value,
        with that reading."""
        if len(value) > limits.MAX_VALUE:
            return None
        for p in self._by_value:
            if p.value.search(value):  # type: ignore[union-attr]
                if p.decoder is None:
                    return p, None
                reading = decoders.DECODERS[p.decoder](name, value)
                if reading:
                    return p, reading
        return None

    def _named_uncached(self, name: str) -> tuple[_Pattern, ...]:
        """Patterns whose name part matches, exact names first, in catalog order."""
        return tuple(self._by_name.get(name, ())) + tuple(p for p in self._by_shape if p.matches_name(name))

    def _looks_like_affinity_uncached(self, name: str) -> bool:
        words = [w.lower() for w in _WORDS.findall(name)]
        return bool(set(words) & self._tokens) or "".join(words) in self._tokens  # serverId, lbCookie

    def decoder_names(self) -> set[str]:
        return {p.decoder for p in self._patterns if p.decoder}


FACT_KEYS = ("vendor", "vendor_name", "affinity", "classified_by", "decoded")
# Decoded fields that hold free text an operator chose: each is searched for addresses too.
# (Pool and vserver names come from the cookie's name, which is not the value.)
_NAMED_FIELDS = ("server", "route", "server_id")


def classify_and_decode(catalog: Catalog, name: str, value: str) -> dict[str, Any]:
    """Who set the cookie and what its value reveals: the vendor decoder's reading and the generic
    leak search both run, and the reading keeps the strongest truth of the two (a server name that is
    an RFC 1918 address is an internal address, with the vendor's context kept)."""
    found = catalog.classify(name, value)
    facts: dict[str, Any] = {"vendor": None, "vendor_name": None, "affinity": False, "classified_by": None,
                             "decoded": None}
    vendor_reading = None
    if found is not None:
        facts.update(affinity=found.affinity, classified_by=found.by)
        if found.vendor is not None:
            facts.update(vendor=found.vendor.id, vendor_name=found.vendor.name)
        if found.reading is not None:
            vendor_reading = found.reading
        elif found.decoder and len(value) <= limits.MAX_VALUE:  # no vendor's format is longer
            vendor_reading = decoders.DECODERS[found.decoder](name, value)
        elif found.by == "heuristic":
            vendor_reading = _named_server(name, value)
        if vendor_reading and found.by == "value" and vendor_reading.get("confidence") == "high":
            # Recognised by its value alone: a lower confidence than a name-and-value match.
            vendor_reading = {**vendor_reading, "confidence": "medium"}
    facts["decoded"] = merge(vendor_reading, leaks.find(value[: limits.MAX_VALUE]))
    return facts


# A name made only of these words says the value is a server: serverId, backend_node, SRV, lb_server.
_SERVER_WORDS = frozenset({"server", "srv", "node", "backend", "upstream", "worker"})
_NAME_WORDS = _SERVER_WORDS | {"id", "name", "route", "sticky", "lb", "affinity"}
_SERVER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")  # web-abcde, app02_8003; no dots, not all digits
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _named_server(name: str, value: str) -> dict[str, Any] | None:
    """An unidentified affinity cookie whose name says nothing but that it holds a server (serverId,
    backend_node) and whose value is one short name or a UUID: that server's name or id, at low
    confidence. Names with other words (backendUser, srv_time) say something else."""
    words = {w.lower() for w in _WORDS.findall(name)}
    if not words & _SERVER_WORDS or not words <= _NAME_WORDS:
        return None
    value = value.strip().strip('"')
    if _UUID.fullmatch(value):
        return {"server_id": value, "confidence": "low"}
    return {"server": value, "confidence": "low"} if _SERVER_NAME.fullmatch(value) else None


def merge(vendor: dict[str, Any] | None, generic: dict[str, Any] | None) -> dict[str, Any] | None:
    """The vendor's reading, completed by what the generic search found in the value and in the
    reading's own text fields; the vendor's keys win where both say something."""
    if not vendor:
        return generic
    merged = dict(vendor)
    extra: list[dict[str, Any]] = [generic] if generic else []
    for key in _NAMED_FIELDS:
        text = vendor.get(key)
        if isinstance(text, str) and text:
            inner = leaks.find(text)
            if inner:
                extra.append(inner)
    for reading in extra:
        if "ip" in merged and "ip" in reading:
            continue  # one address per reading: the vendor's (or the first found) stands
        for key, val in reading.items():
            if key not in ("confidence", "encoding"):
                merged.setdefault(key, val)
    return merged


def apply(catalog: Catalog, obs: Any) -> None:
    """Classify a cookie observation in place and decode its value (a copy: the reading is cached)."""
    small = len(obs.value) <= limits.MAX_VALUE and len(obs.name) <= limits.MAX_VALUE  # bounds the cache's memory
    facts = catalog.facts(obs.name, obs.value) if small else classify_and_decode(catalog, obs.name, obs.value)
    for key, value in facts.items():
        setattr(obs, key, dict(value) if key == "decoded" and value else value)


def load(directories: list[Path]) -> Catalog:
    """The catalog of the first folder, extended (vendor ids replaced) by later folders' catalogs."""
    vendors: dict[str, dict] = {}
    tokens: set[str] = set()
    problems: list[str] = []
    for directory in directories:
        path = directory / datafiles.CATALOG_FILE
        if not path.is_file():
            continue
        data, found = datafiles.load_checked(path, "catalog", _check_decoders)
        if found:
            problems += found
            continue
        for v in data["vendors"]:
            vendors[str(v["id"])] = v
        tokens |= {str(t) for t in data["heuristic"]["tokens"]}
    if problems:
        raise datafiles.RuleFileError(problems)
    return _build(list(vendors.values()), tokens)


def _check_decoders(path: Path, data: Any) -> list[str]:
    problems = []
    for i, vendor in enumerate(data["vendors"]):
        for j, cookie in enumerate(vendor["cookies"]):
            name = cookie.get("decoder")
            if name is not None and name not in decoders.DECODERS:
                line = datafiles.line_of(data, ["vendors", i, "cookies", j, "decoder"])
                known = ", ".join(sorted(decoders.DECODERS))
                problems.append(
                    f"{path}:{line}: vendors/{i}/cookies/{j}/decoder: no decoder {name!r} (known: {known})"
                )
    return problems


def _build(vendor_data: list[dict], tokens: set[str]) -> Catalog:
    vendors, patterns = [], []
    for v in vendor_data:
        vendor = Vendor(v["id"], v["name"], bool(v.get("managed", False)), tuple(v["references"]))
        vendors.append(vendor)
        for c in v["cookies"]:
            patterns.append(
                _Pattern(
                    vendor=vendor,
                    name=c.get("name"),
                    prefix=c.get("prefix"),
                    pattern=re.compile(c["pattern"]) if "pattern" in c else None,
                    value=re.compile(c["value"]) if "value" in c else None,
                    decoder=c.get("decoder"),
                    affinity=bool(c.get("affinity", True)),
                )
            )
    return Catalog(vendors, patterns, tokens)
