"""What a cookie value can reveal: every key a decoder or the leak search may return, declared once.

Each key says which group it belongs to. Rule conditions (`decodes_to: pool-name`), the one-line
description reports print and the compliance summary all read these declarations, so a decoder that
returns a declared key is judged everywhere with no other edit; tests/audit/test_evidence.py fails on
a decoder vector whose evidence carries an undeclared key.
"""

from __future__ import annotations

import functools
from typing import Any
from typing import NamedTuple

Decoded = dict[str, Any]

# Address classes that reveal the inside of a network (decoders.address_class names them). Documentation
# and other reserved blocks are not internal: they are worded for what they are (`special-address`).
INTERNAL_CLASSES = frozenset({"private", "loopback", "link-local", "shared"})
SPECIAL_CLASSES = frozenset({"documentation", "reserved"})


class Key(NamedTuple):
    group: str  # the `decodes_to` argument that fires on it, or the part of the evidence it belongs to
    named: bool  # printed as `key value` in descriptions (addresses, hashes and flags have wordings of their own)
    meaning: str


KEYS: dict[str, Key] = {
    "ip": Key("address", False, "the backend's IP address"),
    "port": Key("address", False, "the backend's port"),
    "address_class": Key("address", False, "public, private, shared, loopback, link-local, documentation, reserved"),
    "host": Key("address", True, "a backend host name"),
    "internal_host": Key("internal-hostname", False, "the host name is an internal one (.local, .internal, ...)"),
    "vport": Key("address", True, "the virtual server's port"),
    "route_domain": Key("address", True, "a BIG-IP route domain"),
    "url": Key("backend-url", False, "a backend URL"),
    "pool": Key("pool-name", True, "a pool name"),
    "vserver": Key("pool-name", True, "a virtual server name"),
    "service_group": Key("pool-name", True, "a service group name"),
    "server": Key("server-name", True, "a server name"),
    "route": Key("server-name", True, "a route id"),
    "server_id": Key("server-name", True, "a server id or clone id"),
    "datacenter": Key("server-name", True, "a data centre"),
    "tenant_id": Key("server-name", True, "a tenant id"),
    "proxy_id": Key("server-name", True, "a proxy id"),
    "created": Key("timing", True, "when the session or server process began"),
    "last_seen": Key("timing", True, "when the session was last seen"),
    "first_seen": Key("timing", True, "when the session was first seen"),
    "process_id": Key("timing", True, "a server process id"),
    "email": Key("personal-data", True, "an e-mail address"),
    "jwt_personal_claims": Key("jwt-personal-claims", True, "JWT claims that hold personal data"),
    "jwt_alg": Key("jwt", True, "a JWT's algorithm"),
    "jwt_claims": Key("jwt", True, "the claims a JWT carries"),
    "hash": Key("backend-hash", False, "the hash function over the backend"),
    "hash_of": Key("backend-hash", False, "what was hashed"),
    "salt": Key("backend-hash", False, "what salts the hash beside the backend (not a secret, but not guessable)"),
    "keyed": Key("backend-hash", False, "the hash takes a secret key: True, or \"if configured\" (Caddy)"),
    "recovered": Key("meta", False, "how a hashed address was recovered"),
    "encrypted": Key("encrypted", False, "the value is encrypted"),
    "encoding": Key("meta", False, "how the value was read: plain, url, base64, hex, jwt"),
    "confidence": Key("meta", False, "how sure the reading is"),
}


@functools.cache
def keys_in(group: str) -> tuple[str, ...]:
    return tuple(name for name, key in KEYS.items() if key.group == group)


def undeclared(decoded: Decoded | None) -> set[str]:
    return set(decoded or ()) - set(KEYS)


def address(decoded: Decoded) -> str:
    """`10.1.1.100:8080`, `[2001:db8::1]:443`, or the bare address when there is no port."""
    ip = decoded["ip"]
    host = f"[{ip}]" if ":" in ip else ip
    return f"{host}:{decoded['port']}" if decoded.get("port") is not None else host


def describe(decoded: Decoded | None) -> str:
    """One line of evidence, e.g. `10.1.1.100:8080 (private), pool web_pool`."""
    if not decoded:
        return ""
    parts = []
    if "ip" in decoded:
        parts.append(f"{address(decoded)} ({decoded['address_class']})")
    elif decoded.get("host"):
        parts.append(f"{decoded['host']}:{decoded['port']}" if decoded.get("port") else decoded["host"])
    elif decoded.get("port") is not None:
        parts.append(f"port {decoded['port']}")
    if decoded.get("url"):
        parts.append(f"URL {decoded['url']}")
    if decoded.get("recovered"):
        parts.append(f"recovered from its {decoded['recovered']}")
    if decoded.get("encrypted"):
        parts.append("encrypted value")
    if "hash" in decoded and "ip" not in decoded:
        keyed = decoded.get("keyed")
        how = " keyed with a secret" if keyed is True else " (keyed only if a secret is set)" if keyed else ""
        if decoded.get("salt"):
            how += f", salted with {decoded['salt']}"
        parts.append(f"{decoded['hash']} hash of the {decoded['hash_of']}{how}")
    shown = {decoded["ip"], address(decoded)} if "ip" in decoded else set()
    for key, value in decoded.items():
        if (key not in KEYS or KEYS[key].named) and value not in shown:  # a route that is the address says it once
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)
