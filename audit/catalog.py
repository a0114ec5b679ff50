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
    by: str  # "name", "value" or "heuristic"
    decoder: str | None


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

    def cookie_classes(self) -> set[str]:
        """What a rule's `match.cookie` may say."""
        return set(COOKIE_CLASSES) | set(self.vendors)

    def classify(self, name: str, value: str) -> Classification | None:
        value = value.strip('"')
        for p in self._named(name):
            if p.value is None or p.value.search(value):
                return Classification(p.vendor, True, "name", p.decoder)
        for p in self._by_value:
            if p.value.search(value):  # type: ignore[union-attr]
                return Classification(p.vendor, True, "value", p.decoder)
        if self._looks_like_affinity(name):
            return Classification(None, True, "heuristic", None)
        return None

    def _named_uncached(self, name: str) -> tuple[_Pattern, ...]:
        """Patterns whose name part matches, exact names first, in catalog order."""
        return tuple(self._by_name.get(name, ())) + tuple(p for p in self._by_shape if p.matches_name(name))

    def _looks_like_affinity_uncached(self, name: str) -> bool:
        words = {w.lower() for w in _WORDS.findall(name)}
        return bool(words & self._tokens)

    def decoder_names(self) -> set[str]:
        return {p.decoder for p in self._patterns if p.decoder}


FACT_KEYS = ("vendor", "vendor_name", "affinity", "classified_by", "decoded")


def classify_and_decode(catalog: Catalog, name: str, value: str) -> dict[str, Any]:
    """Who set the cookie and what its value reveals: the vendor decoder's reading, or else what
    the generic leak search finds inside the value."""
    found = catalog.classify(name, value)
    facts: dict[str, Any] = {"vendor": None, "vendor_name": None, "affinity": False, "classified_by": None,
                             "decoded": None}
    if found is not None:
        facts.update(affinity=found.affinity, classified_by=found.by)
        if found.vendor is not None:
            facts.update(vendor=found.vendor.id, vendor_name=found.vendor.name)
        if found.decoder and len(value) <= limits.MAX_VALUE:  # no vendor's format is longer
            facts["decoded"] = decoders.DECODERS[found.decoder](name, value)
    if not facts["decoded"] or not _reveals_something(facts["decoded"]):
        facts["decoded"] = leaks.find(value[: limits.MAX_VALUE]) or facts["decoded"]
    return facts


def _reveals_something(decoded: dict[str, Any]) -> bool:
    return any(key not in ("confidence", "hash", "hash_of") for key in decoded)


def apply(catalog: Catalog, obs: Any) -> None:
    """Classify a cookie observation in place and decode its value."""
    for key, value in classify_and_decode(catalog, obs.name, obs.value).items():
        setattr(obs, key, value)


def load(directories: list[Path]) -> Catalog:
    """The catalog of the first folder, extended (vendor ids replaced) by later folders' catalogs."""
    vendors: dict[str, dict] = {}
    tokens: set[str] = set()
    problems: list[str] = []
    for directory in directories:
        path = directory / datafiles.CATALOG_FILE
        if not path.is_file():
            continue
        data, found = datafiles.load_yaml(path)
        found = found or datafiles.validate(path, data, "catalog")
        if not found:
            found = _check_decoders(path, data)
        if found:
            problems += found
            continue
        for v in data["vendors"]:
            vendors[str(v["id"])] = datafiles.plain(v)
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
                )
            )
    return Catalog(vendors, patterns, tokens)
