"""Decoders: what a balancer cookie value reveals, one function per vendor format.

A decoder takes the cookie name and value and returns a dict of what leaked (`ip`, `port`,
`address_class`, and vendor names such as `pool` or `route_domain`) plus a `confidence`, or None
when the value is not in the decoder's format. Decoders are registered by name in `DECODERS`;
`rules/affinity-cookies.yaml` refers to them by that name.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
import time
from collections.abc import Callable
from typing import Any

from stickyguard.audit import clock
from stickyguard.audit.evidence import Decoded

Decoder = Callable[[str, str], "Decoded | None"]


@functools.lru_cache(maxsize=4096)  # a capture repeats its backends' addresses
def address_class(ip: str) -> str:
    """The address's class in the IANA special-purpose registries (RFC 6890): private (RFC 1918,
    and unique-local fc00::/7, RFC 4193), shared (RFC 6598), loopback, link-local, documentation
    (RFC 5737, RFC 3849, RFC 9637), reserved (any other special-purpose block: this-network,
    benchmarking, IETF protocol assignments, 240/4, multicast) or public."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if any(addr in net for net in _PRIVATE):
        return "private"
    if addr in _SHARED:
        return "shared"
    if any(addr in net for net in _DOCUMENTATION):
        return "documentation"
    if addr.is_global and not addr.is_multicast:
        return "public"
    return "reserved"


_PRIVATE = [
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
]
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_DOCUMENTATION = [
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
]


def _swap16(n: int) -> int:
    return ((n & 0xFF) << 8) | (n >> 8)


_BIGIP_NAME = re.compile(r"^BIGipServer(?P<pool>.+)$")
_BIGIP_V4 = re.compile(r"^(\d{1,10})\.(\d{1,5})\.0000$")
_BIGIP_RD_V4 = re.compile(r"^rd(\d+)o0{20}ffff([0-9a-f]{8})o(\d{1,5})$", re.IGNORECASE)
# "!" and base64 of the AES-encrypted cookie (K14784: cookie-encryption in the persistence profile).
_BIGIP_ENCRYPTED = re.compile(r"![A-Za-z0-9+/]{20,}={0,2}")
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
        if names or _BIGIP_ENCRYPTED.fullmatch(value):
            return {**names, "encrypted": True, "confidence": "high"}
        return None
    m = _BIGIP_V4.match(value)
    if m:
        packed, port = int(m.group(1)), int(m.group(2))
        # x.0.0.0 is a network, not a pool member (and "3.0.0000" is more likely a version string).
        if packed >= 2**32 or port >= 2**16 or packed < 2**8:
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
    if port is None or port >= 2**16:  # (BIG-IP pool members on port 0 take any port: a real value)
        return None
    return {
        **names,
        "ip": ip,
        "port": port,
        "address_class": address_class(ip),
        **extra,
        "confidence": "high",
    }


def _iso(seconds: float) -> str | None:
    """A plausible Unix time (2000-2100) as ISO-8601 UTC (with milliseconds when it has a fraction),
    or None when it cannot be one."""
    if not 946684800 <= seconds < 4102444800:
        return None
    return clock.utc_iso(seconds, "milliseconds" if seconds % 1 else "seconds")


def _ip_port(text: str) -> tuple[str, int] | None:
    """`10.0.0.1:80` or `[fd00::1]:80` -> (ip, port), validated."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})", text)
    if not m:
        return None
    ip, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        return None
    return (ip, int(port)) if int(port) < 2**16 else None


_NSC_VALUE = re.compile(r"^[0-9a-f]{8}([0-9a-f]{8})45525d5f4f58455e445a4a42([0-9a-f]{4})$")


def netscaler(name: str, value: str) -> Decoded | None:
    """Citrix NetScaler COOKIEINSERT: the service IP XOR 0x03081e11 and port XOR 0x3630 in hex;
    the vserver name in the cookie name, each letter shifted by one (catalyst256, hindsight). The
    name is read as a vserver only beside a value in that format: other NSC_ cookies (an encrypted
    or opaque value, the Gateway's own session cookies) do not say what their name holds."""
    m = _NSC_VALUE.match(value.strip().strip('"').lower())
    if not m:
        return None
    names: Decoded = {}
    if name.startswith("NSC_") and len(name) > 4:
        names["vserver"] = "".join(_unshift(c) for c in name[4:])
    ip = str(ipaddress.IPv4Address(int(m.group(1), 16) ^ 0x03081E11))
    return _address(names, ip, int(m.group(2), 16) ^ 0x3630)


def _unshift(c: str) -> str:
    if "b" <= c <= "z" or "B" <= c <= "Z":
        return chr(ord(c) - 1)
    if c == "a":
        return "z"
    if c == "A":
        return "Z"
    return c


_A10_VALUE = re.compile(r"^[A-P]{12}$")


def a10(name: str, value: str) -> Decoded | None:
    """A10 Thunder `sto-id`: 12 letters A-P, one hex nibble each; bytes 0-3 reversed are the IPv4
    address, bytes 4-5 little-endian the port. Inferred from public cookies (not documented by
    A10), so the confidence is medium. The name may carry the virtual port (byte-swapped, as
    BIG-IP does) and the service-group name."""
    names: Decoded = {}
    m = re.match(r"^sto-id(?:-(.+))?$", name)
    if m and m.group(1):
        groups = []
        for token in m.group(1).split("-"):
            if token.isdigit() and "vport" not in names and int(token) < 2**16:
                names["vport"] = _swap16(int(token))
            else:
                groups.append(token)
        if groups:
            names["service_group"] = "-".join(groups)
    if not _A10_VALUE.match(value.strip()):
        return {**names, "confidence": "medium"} if names else None
    raw = bytes((ord(a) - 65) << 4 | (ord(b) - 65) for a, b in zip(value[0::2], value[1::2], strict=False))
    ip = str(ipaddress.IPv4Address(raw[3::-1]))
    decoded = _address(names, ip, raw[4] | raw[5] << 8)
    return {**decoded, "confidence": "medium"} if decoded else None


_B64_30 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


_HAPROXY_DYNAMIC = re.compile(r"[0-9a-f]{16}")


def haproxy(name: str, value: str) -> Decoded | None:
    """HAProxy `cookie` persistence: the value is the server's cookie string as the admin wrote it;
    `prefix` mode writes `server~appvalue`; with maxidle/maxlife `server|LLLLL[|FFFFF]`, each date
    30 bits in HAProxy's base64 alphabet of (unix time + 3) >> 2 (src/base64.c s30tob64); `dynamic`
    cookies are `%016llx` of XXH64 over the dynamic-cookie-key, address and port (src/server.c
    srv_set_dyncookie), which needs the key to reverse."""
    value = value.strip().strip('"')
    parts = value.split("|")
    server = parts[0].split("~", 1)[0]
    if not server:
        return None
    if len(parts) == 1 and "~" not in value and _HAPROXY_DYNAMIC.fullmatch(server):
        return {"hash": "xxh64", "hash_of": "key, address and port", "keyed": True, "confidence": "medium"}
    times = _haproxy_dates(parts[1:])
    if times is None:
        return None
    decoded: Decoded = {"server": server}
    for key, seconds in zip(("last_seen", "first_seen"), times, strict=False):
        decoded[key] = _iso(seconds)
    return {**decoded, "confidence": "high"}


def _haproxy_dates(texts: list[str]) -> list[int] | None:
    """The Unix times of at most two 5-character dates (30 bits each, times 4), or None when one is not a
    date in 2000-2100."""
    if len(texts) > 2:
        return None
    times = []
    for text in texts:
        if len(text) != 5 or any(c not in _B64_30 for c in text):
            return None
        seconds = 0
        for c in text:
            seconds = seconds << 6 | _B64_30.index(c)
        if _iso(seconds << 2) is None:
            return None
        times.append(seconds << 2)
    return times


def nginx_sticky_module(name: str, value: str) -> Decoded | None:
    """nginx-sticky-module-ng and Tengine `session_sticky`: the `route` cookie is the MD5 (default) or
    SHA-1 hex of the server as the module names it (what is hashed differs between forks)."""
    return _hex_digest(value.strip().strip('"'), "server address")


def _hex_digest(value: str, hash_of: str) -> Decoded | None:
    """A lower-case hex MD5 (32 digits) or SHA-1 (40) of `hash_of`, as the balancer wrote it."""
    hashes = {32: "md5", 40: "sha1"}
    if len(value) in hashes and re.fullmatch(r"[0-9a-f]+", value):
        return {"hash": hashes[len(value)], "hash_of": hash_of, "confidence": "medium"}
    return None


def haproxy_prefix(name: str, value: str) -> Decoded | None:
    """HAProxy `cookie <app cookie> prefix`: `<server>~<application's value>` (COOKIE_DELIM)."""
    server, tilde, rest = value.strip().strip('"').partition("~")
    if not tilde or not rest or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", server):
        return None
    return {"server": server, "confidence": "high"}


def a10_any_name(name: str, value: str) -> Decoded | None:
    """A10's 12-letter value under a renamed cookie: any 12 letters A-P decode to some address, so the
    value is taken for A10's only when it names an internal one (a random word almost never does)."""
    decoded = a10(name, value)
    internal = decoded and decoded.get("port") and decoded.get("address_class") in ("private", "shared", "loopback")
    return decoded if internal else None


def haproxy_dated(name: str, value: str) -> Decoded | None:
    """HAProxy's dated form under any name: `<server>|LLLLL|FFFFF` with both dates after 2005, the last
    visit not before the first and within a year of it (most 5-letter words decode to some date, so one
    date alone is not a signature)."""
    parts = value.strip().strip('"').split("|")
    times = _haproxy_dates(parts[1:]) if len(parts) == 3 else None
    if times is None:
        return None
    last, first = times
    # After 2005, not after today (the real clock: no capture holds a visit from the future), ordered.
    if first < 1104537600 or last > time.time() + 86400 or not 0 <= last - first <= 366 * 86400:
        return None
    return haproxy(name, value)


def route_suffix(name: str, value: str) -> Decoded | None:
    """Apache mod_proxy_balancer ROUTEID and Tomcat/JBoss jvmRoute: the route is what follows the
    first `.` of the value (`ROUTEID=.node1`, `JSESSIONID=<id>.node1`)."""
    head, dot, route = value.strip().strip('"').partition(".")
    if not dot or not route or not re.fullmatch(r"[A-Za-z0-9_\-.]+", route):
        return None
    return {"route": route, "confidence": "high"}


def websphere(name: str, value: str) -> Decoded | None:
    """IBM WebSphere plug-in affinity: cache id (4 digits), session id (23), then `:clone id`s."""
    m = re.fullmatch(r"(\d{4})([A-Za-z0-9_\-]{23}):(.+)", value.strip())
    if not m:
        return None
    clones = [c for c in m.group(3).split(":") if c and c != "-1"]  # -1: no clone id (a single server)
    return {"server_id": ", ".join(clones), "confidence": "high"} if clones else None


def weblogic(name: str, value: str) -> Decoded | None:
    """Oracle WebLogic: SESSION!PRIMARY_JVMID[!SECONDARY_JVMID][!CREATION_TIME_MS]."""
    parts = value.strip().split("!")
    if len(parts) < 2 or not parts[0]:
        return None
    created = None
    if len(parts) > 2 and re.fullmatch(r"\d{13}", parts[-1]):
        created = _iso(int(parts[-1]) / 1000)
        parts = parts[:-1]
    ids = parts[1:]
    if not ids or not all(re.fullmatch(r"-?\d{1,10}", i) for i in ids):
        return None
    decoded: Decoded = {"server_id": ", ".join(ids)}
    if created:
        decoded["created"] = created
    return {**decoded, "confidence": "high"}


def envoy(name: str, value: str) -> Decoded | None:
    """Envoy stateful session cookie (source/extensions/http/stateful_session/cookie): base64 of the
    upstream's `ip:port`; with the runtime flag stateful_session_encode_ttl_in_cookie, base64 of a
    protobuf `Cookie{string address = 1; uint64 expires = 2}` or, in other releases, of the JSON
    `{"address":"ip:port","expires":N}`. Envoy writes the value in double quotes."""
    raw = b64decode_loose(value.strip().strip('"'))
    if raw is None:
        return None
    text = raw.decode("ascii", errors="replace")
    found = _ip_port(text)
    if found is None and raw[:1] == b"\x0a" and len(raw) > 2 and raw[1] < 0x80:
        found = _ip_port(raw[2 : 2 + raw[1]].decode("ascii", errors="replace"))
    if found is None and text.startswith("{"):
        m = re.fullmatch(r'\{"address":"([^"]{1,64})"(?:,"expires":\d{1,20})?\}', text)
        found = _ip_port(m.group(1)) if m else None
    if found is None:
        return None
    return _address({}, found[0], found[1])


def ingress_nginx(name: str, value: str) -> Decoded | None:
    """Kubernetes ingress-nginx affinity: balanced mode writes `<seconds.millis>.<worker pid>.<random>`
    (since 2021 followed by `|<backend key>`); older releases wrote md5 or sha1 of the pod's
    `ip:port`, which `--candidates` can recover; persistent mode hashes with the upstream name."""
    value = value.strip().strip('"')
    m = re.fullmatch(r"(\d{10})\.(\d{1,3})\.(\d{1,7})\.(\d{1,7})(\|[0-9a-f]{32})?", value)
    if m:
        # ngx.now() prints seconds and up to 3 decimals, trailing zeros dropped (".05" is 50 ms).
        created = _iso(int(m.group(1)) + int(m.group(2).ljust(3, "0")) / 1000)
        if created:
            decoded: Decoded = {"created": created, "process_id": int(m.group(3))}
            if m.group(5):  # since 2021: md5(md5(upstream) .. upstream), the upstream's key, not a backend's
                decoded.update(hash="md5", hash_of="upstream name (namespace-service-port)")
            return {**decoded, "confidence": "high"}
    digest = _hex_digest(value, "ip:port")
    if digest:
        return digest
    if re.fullmatch(r"[0-9a-f]{32}\|[0-9a-f]{32}", value):
        return {"hash": "md5", "hash_of": "upstream name and ip:port", "confidence": "low"}
    return None


def traefik(name: str, value: str) -> Decoded | None:
    """Traefik: up to v2.4 the value is the backend URL itself; v2.5-v3.3.3 an unsalted FNV-64 hex
    of it, v3.3.4+ the first 16 hex digits of its SHA-256; `--candidates` recovers the hashes."""
    value = value.strip().strip('"')
    url = _backend_url(value)
    if url is not None:
        return url
    if re.fullmatch(r"[0-9a-f]{1,16}", value):
        return {"hash": "fnv64 or sha256", "hash_of": "backend URL", "confidence": "medium"}
    return None


def _backend_url(value: str) -> Decoded | None:
    m = re.fullmatch(r"(https?)://([^/:\[\]]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(/\S*)?", value)
    if not m:
        return None
    host = m.group(2).strip("[]")
    decoded: Decoded = {"url": value}
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        decoded["host"] = host
    else:
        decoded.update(ip=ip, address_class=address_class(ip))
    port = int(m.group(3)) if m.group(3) else (443 if m.group(1) == "https" else 80)
    if port < 2**16:
        decoded["port"] = port
    return {**decoded, "confidence": "high"}


def akamai(name: str, value: str) -> Decoded | None:
    """Akamai Application Load Balancer cloudlet `akaalb_<label>`: origin (data-centre) names in
    clear in `~op=<policy>:<origin>` and `~m=<origin>:<n>` (field meaning inferred from cookies)."""
    origins = re.findall(r"~op=[^:|~]*:([^|~]+)", value) + re.findall(r"~m=([^:|~]+):\d+", value)
    unique = list(dict.fromkeys(o for o in origins if o))
    if not unique:
        return None
    decoded: Decoded = {"datacenter": ", ".join(unique)}
    if name.startswith("akaalb_") and len(name) > 7:
        decoded["pool"] = name[7:]
    return {**decoded, "confidence": "medium"}


def heroku(name: str, value: str) -> Decoded | None:
    """Heroku router `heroku-session-affinity`: base64url of a header and an Erlang term holding
    the dyno names as binaries (`web.1`); layout inferred from cookies, so medium confidence."""
    raw = b64decode_loose(value.strip().strip('"'))
    if raw is None or b"\x83" not in raw[:4]:
        return None
    dynos = []
    for m in re.finditer(rb"\x6d\x00\x00\x00([\x01-\x40])", raw):
        start = m.end()
        text = raw[start : start + m.group(1)[0]]
        if re.fullmatch(rb"[a-z][a-z0-9_-]*\.\d+", text):
            dynos.append(text.decode())
    if not dynos:
        return None
    return {"server": ", ".join(dynos), "confidence": "medium"}


def azure_arr(name: str, value: str) -> Decoded | None:
    """Azure App Service ARRAffinity: the worker instance id; a client that sets it picks the instance."""
    value = value.strip()
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return None
    return {"server_id": value.lower(), "confidence": "high"}


def imperva(name: str, value: str) -> Decoded | None:
    """Imperva (Incapsula): the cookie names carry the customer's site id and the PoP proxy id."""
    m = re.fullmatch(r"incap_ses_(\d+)_(\d+)", name)
    if m:
        return {"proxy_id": m.group(1), "tenant_id": m.group(2), "confidence": "high"}
    m = re.fullmatch(r"(?:nlbi|visid_incap)_(\d+)(?:_\d+)?", name)
    if m:
        return {"tenant_id": m.group(1), "confidence": "high"}
    return None


def caddy(name: str, value: str) -> Decoded | None:
    """Caddy `lb_policy cookie`: hex HMAC-SHA256 of the upstream's dial address with the configured
    secret; without a secret the key is empty and `--candidates` recovers the backend."""
    if not re.fullmatch(r"[0-9a-f]{64}", value.strip()):
        return None
    return {"hash": "hmac-sha256", "hash_of": "ip:port", "keyed": "if configured", "confidence": "medium"}


def nginx_sticky(name: str, value: str) -> Decoded | None:
    """NGINX `sticky cookie` (open source since 1.29.6, NGINX Plus before): the hex MD5 of the server's
    `ip:port`, unkeyed, or the server's `route=` string when one is set (ngx_http_upstream_module)."""
    value = value.strip().strip('"')
    if re.fullmatch(r"[0-9a-f]{32}", value):
        return {"hash": "md5", "hash_of": "ip:port", "confidence": "medium"}
    if re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
        return {"server": value, "confidence": "medium"}
    return None


def openshift(name: str, value: str) -> Decoded | None:
    """OpenShift router (HAProxy template): the value is the hex MD5 of the endpoint id `pod:<pod name>:
    <endpoints>:<port name>:<ip>:<port>` (IdHash), salted by the pod's random name; with the dynamic
    config manager, a HAProxy dynamic cookie keyed with the route's cookie name."""
    value = value.strip().strip('"')
    if re.fullmatch(r"[0-9a-f]{32}", value):
        return {"hash": "md5", "hash_of": "pod endpoint id", "salt": "the pod's random name", "confidence": "medium"}
    if _HAPROXY_DYNAMIC.fullmatch(value):
        return {"hash": "xxh64", "hash_of": "key, address and port", "keyed": True, "confidence": "medium"}
    return None


def alibaba_slb(name: str, value: str) -> Decoded | None:
    """Alibaba Cloud SLB inserted SERVERID (and ALB's SERVERCORSID twin): `<32 hex>|<unix>|<unix>`, an opaque
    per-server id and two times. The layout follows HAProxy's `server|last|first`; Alibaba documents only
    the cookie's name, so the times' meaning is inferred and the confidence is medium."""
    m = re.fullmatch(r"([0-9a-f]{32})\|(\d{10})\|(\d{10})", value.strip().strip('"'))
    if not m:
        return None
    decoded: Decoded = {"server_id": m.group(1)}
    last, first = int(m.group(2)), int(m.group(3))
    if last >= first:  # read as HAProxy's order only when it holds; otherwise the times are not claimed
        for key, seconds in (("last_seen", last), ("first_seen", first)):
            when = _iso(seconds)
            if when:
                decoded[key] = when
    return {**decoded, "confidence": "medium"}


def instance_id(name: str, value: str) -> Decoded | None:
    """A cookie whose whole value is the instance the router pins the session to, in clear: Cloud
    Foundry gorouter's `__VCAP_ID__` (the app instance's private id) and PingAM/OpenAM's `amlbcookie`
    (the AM server id). A client that sets it picks the instance."""
    value = value.strip().strip('"')
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        return None
    return {"server_id": value, "confidence": "high"}


def b64decode_loose(text: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; None when the text is not base64."""
    if not re.fullmatch(r"[A-Za-z0-9+/_-]{4,}={0,2}", text):
        return None
    text = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


DECODERS: dict[str, Decoder] = {
    "bigip": bigip,
    "netscaler": netscaler,
    "a10": a10,
    "a10_any_name": a10_any_name,
    "haproxy": haproxy,
    "haproxy_prefix": haproxy_prefix,
    "haproxy_dated": haproxy_dated,
    "nginx_sticky": nginx_sticky,
    "nginx_sticky_module": nginx_sticky_module,
    "openshift": openshift,
    "instance_id": instance_id,
    "alibaba_slb": alibaba_slb,
    "route_suffix": route_suffix,
    "websphere": websphere,
    "weblogic": weblogic,
    "envoy": envoy,
    "ingress_nginx": ingress_nginx,
    "traefik": traefik,
    "akamai": akamai,
    "heroku": heroku,
    "azure_arr": azure_arr,
    "imperva": imperva,
    "caddy": caddy,
}
