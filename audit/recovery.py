"""Recover backends that a balancer hashed without a secret, from candidate addresses.

ingress-nginx (until late 2018) wrote md5 or sha1 of the pod's `ip:port`; Traefik v2.5+ writes
an unsalted FNV-64 (v2.5-v3.3.3, once or twice) or a truncated SHA-256 (v3.3.4+) of the server
URL; Caddy's `lb` cookie is an HMAC-SHA256 of `ip:port` whose key is empty unless configured.
Given `--candidates` such as `10.0.0.0/24:80,8080`, every candidate is hashed the ways the
targets need and matched against them in one pass.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from collections.abc import Iterator

MAX_CANDIDATES = 1 << 22  # about four million: a /16 with 64 ports; more is refused
DEFAULT_PORTS = (80, 443, 8080)
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1


class CandidateError(ValueError):
    pass


def parse(specs: Iterable[str]) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, tuple[int, ...]]]:
    """`10.0.0.0/24:80,8080`, `10.0.0.7`, `[fd00::/120]:8000-8010` -> (network, ports) pairs."""
    out = []
    for spec in specs:
        for part in spec.split(";"):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r"\[([^\]]+)\](?::([\d,\-]+))?|([^:\[\]]+)(?::([\d,\-]+))?", part)
            if not m:
                raise CandidateError(f"not an address, range or ports: {part!r} (try 10.0.0.0/24:80,8080)")
            net_text, ports_text = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            try:
                network = ipaddress.ip_network(net_text, strict=False)
            except ValueError as e:
                raise CandidateError(f"{part!r}: {e}") from None
            out.append((network, _ports(ports_text, part) if ports_text else DEFAULT_PORTS))
    count = sum(n.num_addresses * len(p) for n, p in out)
    if count > MAX_CANDIDATES:
        raise CandidateError(
            f"{count:,} candidates is more than the {MAX_CANDIDATES:,} stickyguard will try; narrow the ranges or ports"
        )
    return out


def _ports(text: str, part: str) -> tuple[int, ...]:
    ports: list[int] = []
    for item in text.split(","):
        lo, _, hi = item.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise CandidateError(f"{part!r}: not a port or port range: {item!r}")
        first, last = int(lo), int(hi or lo)
        if not 0 < first <= last < 2**16:
            raise CandidateError(f"{part!r}: ports must be 1-65535: {item!r}")
        ports.extend(range(first, last + 1))
    return tuple(dict.fromkeys(ports))


def count(ranges) -> int:
    return sum(n.num_addresses * len(p) for n, p in ranges)


def candidates(ranges) -> Iterator[tuple[str, int, str]]:
    """(ip, port, dial string) for every candidate; IPv6 dial strings carry brackets."""
    for network, ports in ranges:
        for ip in network:
            text = str(ip)
            host = f"[{text}]" if ip.version == 6 else text
            for port in ports:
                yield text, port, f"{host}:{port}"


def fnv1a64(data: bytes) -> int:
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return h


def fnv1_64(data: bytes) -> int:
    h = _FNV_OFFSET
    for b in data:
        h = ((h * _FNV_PRIME) & _MASK) ^ b
    return h


def recover(ranges, targets: Iterable[str]) -> dict[str, tuple[str, int, str]]:
    """target value -> (ip, port, how it was hashed) for every target a candidate explains."""
    targets = {t.strip().strip('"').lower() for t in targets}
    want_md5 = any(len(t) == 32 for t in targets)
    want_sha1 = any(len(t) == 40 for t in targets)
    want_hmac = any(len(t) == 64 for t in targets)
    want_traefik = any(len(t) <= 16 for t in targets)
    empty_key = hmac.new(b"", digestmod=hashlib.sha256)
    found: dict[str, tuple[str, int, str]] = {}
    for ip, port, dial in candidates(ranges):
        raw = dial.encode()
        tries = []
        if want_md5:
            tries.append((hashlib.md5(raw).hexdigest(), "md5 of ip:port"))
        if want_sha1:
            tries.append((hashlib.sha1(raw).hexdigest(), "sha1 of ip:port"))
        if want_hmac:
            h = empty_key.copy()
            h.update(raw)
            tries.append((h.hexdigest(), "HMAC-SHA256 of ip:port with an empty key"))
        if want_traefik:
            for scheme in ("http", "https"):
                url = f"{scheme}://{dial}".encode()
                once = format(fnv1a64(url), "x")
                tries.append((once, f"FNV-1a-64 of {scheme}://ip:port"))
                tries.append((format(fnv1_64(once.encode()), "x"), f"FNV-64 of FNV-1a-64 of {scheme}://ip:port"))
                tries.append((hashlib.sha256(url).hexdigest()[:16], f"SHA-256 of {scheme}://ip:port"))
        for value, how in tries:
            if value in targets and value not in found:
                found[value] = (ip, port, how)
        if len(found) == len(targets):
            break
    return found
