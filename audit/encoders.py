"""Balancer cookies as the balancers write them: the inverse of decoders.py.

They make test vectors and the demo's capture of other balancers' cookies, so every format the
audit decodes is also one we can produce, and a round trip (encode, then decode) proves the two
agree. Each follows the same source as its decoder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress


def _swap16(n: int) -> int:
    return ((n & 0xFF) << 8) | (n >> 8)


def bigip(ip: str, port: int, route_domain: int | None = None) -> str:
    """F5 BIG-IP persistence cookie value (K6917): IPv4 little-endian integer and byte-swapped port,
    `rd<N>o<hex>o<port>` with a route domain, `vi<hex>.<swapped port>` for IPv6."""
    addr = ipaddress.ip_address(ip)
    if route_domain is not None:
        hexed = ("00" * 10 + "ffff" + addr.packed.hex()) if addr.version == 4 else addr.packed.hex()
        return f"rd{route_domain}o{hexed}o{port}"
    if addr.version == 4:
        return f"{int.from_bytes(addr.packed, 'little')}.{_swap16(port)}.0000"
    return f"vi{addr.packed.hex()}.{_swap16(port)}"


def netscaler_name(vserver: str) -> str:
    """NetScaler's cookie name: `NSC_` and the virtual server's name, each letter shifted by one."""

    def shift(c: str) -> str:
        if c in "zZ":
            return chr(ord(c) - 25)
        return chr(ord(c) + 1) if c.isascii() and c.isalpha() else c

    return "NSC_" + "".join(shift(c) for c in vserver)


def netscaler(ip: str, port: int) -> str:
    """NetScaler COOKIEINSERT value: service IP XOR 0x03081e11, port XOR 0x3630, in hex."""
    packed = int(ipaddress.IPv4Address(ip)) ^ 0x03081E11
    return f"ffffffff{packed:08x}45525d5f4f58455e445a4a42{port ^ 0x3630:04x}"


def a10_name(vport: int, service_group: str) -> str:
    """A10 Thunder's cookie name: `sto-id-<virtual port, byte-swapped>-<service group>`."""
    return f"sto-id-{_swap16(vport)}-{service_group}"


def a10(ip: str, port: int) -> str:
    """A10 Thunder `sto-id` value: 12 letters A-P, one nibble each, address reversed, port little-endian."""
    raw = ipaddress.IPv4Address(ip).packed[::-1] + bytes([port & 0xFF, port >> 8])
    return "".join(chr(65 + (b >> 4)) + chr(65 + (b & 0xF)) for b in raw)


_B64_30 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _haproxy_date(seconds: int) -> str:
    n = (seconds + 3) >> 2  # src/base64.c s30tob64: 30 bits of (time + 3) / 4
    return "".join(_B64_30[(n >> shift) & 63] for shift in (24, 18, 12, 6, 0))


def haproxy(server: str, last_seen: int | None = None, first_seen: int | None = None) -> str:
    """HAProxy `cookie SERVERID insert` value: the server's cookie string, with maxidle/maxlife
    the last and first visit dates appended as `|LLLLL|FFFFF`."""
    value = server
    if last_seen is not None:
        value += "|" + _haproxy_date(last_seen)
        if first_seen is not None:
            value += "|" + _haproxy_date(first_seen)
    return value


def envoy(ip: str, port: int) -> str:
    """Envoy's stateful session cookie (text form): base64 of `ip:port`."""
    host = f"[{ip}]" if ":" in ip else ip
    return base64.b64encode(f"{host}:{port}".encode()).decode()


def ingress_nginx_md5(ip: str, port: int) -> str:
    """ingress-nginx before its balanced mode: md5 of the pod's `ip:port`."""
    return hashlib.md5(f"{ip}:{port}".encode()).hexdigest()


def traefik_sha256(url: str) -> str:
    """Traefik v3.3.4+: the first 16 hex digits of SHA-256 of the backend URL."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def caddy(ip: str, port: int, secret: bytes = b"") -> str:
    """Caddy `lb_policy cookie`: hex HMAC-SHA256 of the dial address, keyed with the configured secret."""
    return hmac.new(secret, f"{ip}:{port}".encode(), hashlib.sha256).hexdigest()
