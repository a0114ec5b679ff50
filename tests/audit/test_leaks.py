import base64
import json

import pytest

from stickyguard.audit import leaks


def jwt(header, payload):
    def enc(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{enc(header)}.{enc(payload)}.c2ln"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("10.0.0.5:8080", {"ip": "10.0.0.5", "port": 8080, "address_class": "private"}),
        ("http://10.1.2.3:8080/app", {"url": "http://10.1.2.3:8080/app", "ip": "10.1.2.3", "port": 8080}),
        ("192.168.1.1", {"ip": "192.168.1.1", "address_class": "private"}),
        ("100.64.3.2", {"ip": "100.64.3.2", "address_class": "shared"}),
        ("169.254.0.9", {"ip": "169.254.0.9", "address_class": "link-local"}),
        ("8.8.8.8:53", {"ip": "8.8.8.8", "port": 53, "address_class": "public"}),
        ("fd00::42", {"ip": "fd00::42", "address_class": "private"}),
        ("[fd00::1]:80", {"ip": "fd00::1", "port": 80}),
        ("MTAuMC4wLjEyOjgwODA=", {"ip": "10.0.0.12", "port": 8080, "encoding": "base64"}),
        ("31302e302e302e31323a38303830", {"ip": "10.0.0.12", "port": 8080, "encoding": "hex"}),
        ("db1.corp:5432", {"host": "db1.corp", "port": 5432, "internal_host": True}),
        ("backend.internal", {"host": "backend.internal", "internal_host": True}),
        ("web01:8080", {"host": "web01", "port": 8080, "internal_host": True}),
        ("user%40example.com", {"email": "user@example.com", "encoding": "url"}),
        ("eyJlbWFpbCI6ImJvYkBleGFtcGxlLm9yZyJ9", {"email": "bob@example.org", "encoding": "base64"}),
        (jwt({"alg": "HS256"}, {"sub": "1", "name": "Alice", "email": "a@example.com"}),
         {"jwt_alg": "HS256", "jwt_personal_claims": "email, name", "email": "a@example.com"}),
        (jwt({"alg": "none"}, {"sub": "bob@example.com"}), {"jwt_alg": "none", "jwt_personal_claims": "sub"}),
    ],
)
def test_finds(value, expected):
    found = leaks.find(value)
    assert found is not None
    for key, val in expected.items():
        assert found[key] == val, key


@pytest.mark.parametrize(
    "value",
    [
        "3c1a5b0e9d7f2a4c6e8b0d2f4a6c8e0b",                # a random session id (hex)
        "Zm9vYmFyYmF6cXV1eA==",                            # base64 of harmless text
        "q8Hk3pXcY2V0bmVyL3NlcnZlcjE",                     # opaque token
        "GA1.2.1234567890.1700000000",                     # analytics id with timestamps
        "1598371152.898.2320.533481",                      # timestamp.millis.pid.random
        "1700000000",
        "2024-01-01T10:00:00Z",
        "v=1.2.3",
        "2.4.51.1",                                        # a version, not an address
        "10.0.19045.2364",                                 # a Windows build number
        "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",            # a UUID
        "en-US",
        "dark",
        "0.0.0.0",
        "s%3Aabc.def",                                     # express-session signed id
    ],
)
def test_no_false_alarm(value):
    assert leaks.find(value) is None


def test_jwt_without_personal_claims():
    found = leaks.find(jwt({"alg": "RS256"}, {"sub": "123", "exp": 1}))
    assert "jwt_personal_claims" not in found and found["jwt_claims"] == "exp, sub"


def test_not_a_jwt_when_the_header_is_not_json():
    assert leaks.find("eyJub3QganNvbg.eyJ4IjoxfQ.sig") is None


def test_readings():
    assert [e for e, _ in leaks.readings("a%20b")] == ["plain", "url"]
    assert [e for e, _ in leaks.readings("MTAuMC4wLjEyOjgwODA=")] == ["plain", "base64"]


@pytest.mark.parametrize("value", [
    "https://shop.example.com/cart?x=1",                 # the site's own page, a return URL
    "https%3A%2F%2Fshop.example.com%3A8443%2Fcheckout",  # the same, URL-encoded, with a port
])
def test_a_public_url_names_no_server_behind_the_site(value):
    assert leaks.find(value) is None


def test_an_internal_or_address_url_is_a_backend_url():
    assert leaks.find("http://app01.internal:8080/")["url"] == "http://app01.internal:8080/"
    assert leaks.find("go=https://www.example.org/ via 10.1.2.3:80")["ip"] == "10.1.2.3"
