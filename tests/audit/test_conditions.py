import json

import pytest

from stickyguard.audit import conditions
from stickyguard.audit import cookies
from stickyguard.audit import rules as rule_data
from stickyguard.audit.catalog import apply
from stickyguard.audit.conditions import DEFAULT_SETTINGS
from stickyguard.audit.conditions import Settings
from stickyguard.audit.records import Exchange


def obs(set_cookie, url="https://shop.example/", top=None, catalog=None):
    ex = Exchange(url, "GET", 200, [], [("Set-Cookie", set_cookie), ("Date", "Wed, 01 Jan 2025 10:00:00 GMT")],
                  None, top, "t", "entry 0")
    (o,) = cookies.observe(ex)
    if catalog is not None:
        apply(catalog, o)
    return o


def holds(op, arg, o, settings=DEFAULT_SETTINGS):
    return conditions.CONDITIONS[op](o, arg, settings)


@pytest.mark.parametrize(
    "op,arg,set_cookie,url,expected",
    [
        ("scheme", "https", "a=1", "https://x.example/", True),
        ("scheme", "http", "a=1", "https://x.example/", False),
        ("attribute_missing", "secure", "a=1; HttpOnly", "https://x.example/", True),
        ("attribute_missing", "secure", "a=1; secure", "https://x.example/", False),
        ("attribute_present", "domain", "a=1; Domain=x.example", "https://x.example/", True),
        ("attribute_present", "max-age", "a=1", "https://x.example/", False),
        ("samesite_in", ["missing", "invalid"], "a=1; SameSite=Bogus", "https://x.example/", True),
        ("samesite_in", ["none"], "a=1; SameSite=Lax", "https://x.example/", False),
        ("prefix_broken", True, "__Host-a=1; Secure", "https://x.example/", True),
        ("prefix_broken", True, "__Host-a=1; Secure; Path=/", "https://x.example/", False),
        ("domain_scope_in", ["registrable"], "a=1; Domain=x.example", "https://www.x.example/", True),
        ("domain_scope_in", ["host", "parent"], "a=1", "https://www.x.example/", False),
        ("persistent", True, "a=1; Max-Age=60", "https://x.example/", True),
        ("persistent", False, "a=1", "https://x.example/", True),
        ("lifetime_over_seconds", 3600, "a=1; Max-Age=3601", "https://x.example/", True),
        ("lifetime_over_seconds", 3600, "a=1; Max-Age=3600", "https://x.example/", False),
        ("lifetime_over_seconds", 0, "a=1", "https://x.example/", False),
    ],
)
def test_operators(op, arg, set_cookie, url, expected):
    assert holds(op, arg, obs(set_cookie, url)) is expected


def test_lifetime_over_budget_follows_settings():
    o = obs("a=1; Max-Age=7200")
    assert holds("lifetime_over_budget", True, o, Settings(max_lifetime_seconds=3600))
    assert not holds("lifetime_over_budget", True, o, Settings(max_lifetime_seconds=86400))
    assert not holds("lifetime_over_budget", True, obs("a=1"), Settings(max_lifetime_seconds=0))


def test_third_party():
    o = obs("a=1", url="https://cdn.other.example/x", top="https://shop.example/")
    assert holds("third_party", True, o)
    assert not holds("third_party", False, o)
    unknown = obs("a=1")
    assert not holds("third_party", True, unknown) and not holds("third_party", False, unknown)


@pytest.mark.parametrize(
    "set_cookie,arg,expected",
    [
        ("BIGipServerp=1677787402.36895.0000", "private-address", True),
        ("BIGipServerp=1677787402.36895.0000", "any-address", True),
        ("BIGipServerp=1677787402.36895.0000", "public-address", False),
        ("BIGipServerp=584628317.20480.0000", "public-address", True),
        ("BIGipServerp=584628317.20480.0000", "private-address", False),
        ("BIGipServerp=rd1o00000000000000000000ffffc0000201o80", "private-address", False),  # documentation range
        ("BIGipServerp=rd1o00000000000000000000ffffc0000201o80", "special-address", True),
        ("BIGipServerp=rd1o00000000000000000000ffffc0a80001o80", "special-address", False),  # 192.168.0.1
        ("BIGipServerp=!Zm9vYmFy", "encrypted", True),
        ("BIGipServerp=!Zm9vYmFy", "any-address", False),
        ("BIGipServerp=!Zm9vYmFy", "pool-name", True),
        ("dr_who=1677787402.36895.0000", "pool-name", False),
        ("SERVERID=s1", "any-address", False),
    ],
)
def test_decodes_to(catalog, set_cookie, arg, expected):
    assert holds("decodes_to", arg, obs(set_cookie, catalog=catalog)) is expected


@pytest.mark.parametrize(
    "set_cookie,arg,expected",
    [
        ("sto-id-47873=notdecodable", "port-only", True),
        ("sto-id-47873-g=ICAJBCKMPLCA", "port-only", False),
        ("BIGipServerp=1677787402.36895.0000", "port-only", False),
        ("SERVERID=web3", "server-name", True),
        ("JSESSIONID=7D8A2F0B4C1E9A3D5F6B8C0E2A4D6F81.node2", "server-name", True),
        ("nlbi_123=x", "server-name", True),
        ("NSC_Qspe=x", "pool-name", False),  # an opaque value: the name is not known to be a vserver's
        ("_TRAEFIK_BACKEND=http://10.0.0.3:80", "backend-url", True),
        ("INGRESSCOOKIE=77340173909b49438e3e8e1850cf97ef", "backend-hash", True),
        ("INGRESSCOOKIE=1598371152.898.2320.533481", "timing", True),
        ("INGRESSCOOKIE=1598371152.898.2320.533481", "backend-hash", False),
    ],
)
def test_decodes_to_names(catalog, set_cookie, arg, expected):
    assert holds("decodes_to", arg, obs(set_cookie, catalog=catalog)) is expected


@pytest.mark.parametrize(
    "value,ip,expected",
    [
        ("203.0.113.50", "203.0.113.50", True),
        ("ip=203.0.113.50&x=1", "203.0.113.50", True),
        ("203.0.113.x", "203.0.113.50", True),                    # truncated to the /24
        ("MjAzLjAuMTEzLjUw", "203.0.113.50", True),               # base64
        ("9c85e8e7348963f41b52893a5fdbcd8f", "203.0.113.50", True),  # md5, reversible over IPv4
        ("1203.0.113.501", "203.0.113.50", False),
        ("203.0.113.51", "198.51.100.7", False),
        ("2001:db8:aa:1::5", "2001:db8:aa:1::5", True),
        ("s1", "203.0.113.50", False),
    ],
)
def test_contains_client_ip(value, ip, expected):
    o = obs(f"c={value}")
    assert conditions.contains_client_ip(o, True, Settings(client_ip=ip)) is expected


def test_contains_client_ip_needs_the_address():
    assert not conditions.contains_client_ip(obs("c=203.0.113.50"), True, Settings())


def test_schema_and_code_name_the_same_operators():
    schema = json.loads((rule_data.RULES_DIR / "schema.json").read_text())
    assert set(schema["$defs"]["condition"]["properties"]) == set(conditions.CONDITIONS)
