"""Decoders: what a balancer cookie value reveals, one function per vendor format.

A decoder takes the cookie name and value and returns a dict of what leaked (`ip`, `port`,
`address_class`, and vendor names such as `pool` or `route_domain`) plus a `confidence`, or None
when the value is not in the decoder's format. Decoders are registered by name in `DECODERS`;
`rules/affinity-cookies.yaml` refers to them by that name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

Decoded = dict[str, Any]
Decoder = Callable[[str, str], "Decoded | None"]


def address_class(ip: str) -> str:
    """public, private, shared (RFC 6598), loopback, link-local, documentation or reserved."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr in _SHARED:
        return "shared"
    if any(addr in net for net in _DOCUMENTATION):
        return "documentation"
    if addr.is_global:
        return "public"
    if addr.is_reserved:
        return "reserved"
    if addr.is_private:
        return "private"
    return "reserved"


_SHARED = ipaddress.ip_network("100.64.0.0/10")
_DOCUMENTATION = [
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


def _swap16(n: int) -> int:
    return ((n & 0xFF) << 8) | (n >> 8)


_BIGIP_NAME = re.compile(r"^BIGipServer(?P<pool>.+)$")
_BIGIP_V4 = re.compile(r"^(\d{1,10})\.(\d{1,5})\.0000$")
_BIGIP_RD_V4 = re.compile(r"^rd(\d+)o0{20}ffff([0-9a-f]{8})o(\d{1,5})$", re.IGNORECASE)
_BIGIP_V6 = re.compile(r"^vi([0-9a-f]{32})\.(\d{1,5})$", re.IGNORECASE)
_BIGIP_RD_V6 = re.compile(r"^rd(\d+)o([0-9a-f]{32})o(\d{1,5})$", re.IGNORECASE)


def bigip(name: str, value: str) -> Decoded | None:
    """F5 BIG-IP LTM persistence cookie (F5 article K6917).

    IPv4: the first field is the address as a little-endian 32-bit integer, the second the port
    with its two bytes swapped (1677787402.36895.0000 -> 10.1.1.100:8080). Route-domain forms
    (`rd<N>o<hex>o<port>`) carry the address in big-endian hex and the port in plain decimal.
    IPv6 (`vi<hex>.<port>`) swaps the port as IPv4 does. A value starting with `!` is encrypted.
    """
    value = value.strip().strip('"')
    m = _BIGIP_NAME.match(name)
    names: Decoded = {"pool": m.group("pool")} if m else {}
    if value.startswith("!") and len(value) > 1:
        return {**names, "encrypted": True, "confidence": "high"} if names else None
    m = _BIGIP_V4.match(value)
    if m:
        packed, port = int(m.group(1)), int(m.group(2))
        if packed >= 2**32 or port >= 2**16:
            return None
        ip = str(ipaddress.IPv4Address(packed.to_bytes(4, "little")))
        return _address(names, ip, _swap16(port))
    m = _BIGIP_RD_V4.match(value)
    if m:
        ip = str(ipaddress.IPv4Address(bytes.fromhex(m.group(2))))
        return _address(names, ip, int(m.group(3)), route_domain=int(m.group(1)))
    m = _BIGIP_V6.match(value)
    if m:
        ip = str(ipaddress.IPv6Address(bytes.fromhex(m.group(1))))
        return _address(names, ip, _swap16(int(m.group(2))) if int(m.group(2)) < 2**16 else None)
    m = _BIGIP_RD_V6.match(value)
    if m:
        ip = str(ipaddress.IPv6Address(bytes.fromhex(m.group(2))))
        return _address(names, ip, int(m.group(3)), route_domain=int(m.group(1)))
    return None


def _address(names: Decoded, ip: str, port: int | None, **extra: Any) -> Decoded | None:
    if port is None or port >= 2**16:
        return None
    return {
        **names,
        "ip": ip,
        "port": port,
        "address_class": address_class(ip),
        **extra,
        "confidence": "high",
    }


DECODERS: dict[str, Decoder] = {
    "bigip": bigip,
}


def describe(decoded: Decoded | None) -> str:
    """One line of evidence, e.g. `10.1.1.100:8080 (private), pool web_pool`."""
    if not decoded:
        return ""
    parts = []
    if "ip" in decoded:
        ip = decoded["ip"]
        host = f"[{ip}]" if ":" in ip else ip
        addr = f"{host}:{decoded['port']}" if decoded.get("port") is not None else host
        parts.append(f"{addr} ({decoded['address_class']})")
    if decoded.get("encrypted"):
        parts.append("encrypted value")
    for key, value in decoded.items():
        if key not in {"ip", "port", "address_class", "encrypted", "confidence"}:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)
