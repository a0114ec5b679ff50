import hashlib
import hmac

import pytest
from ruamel.yaml import YAML

from stickyguard.audit import recovery
from tests.conftest import DATA

VECTORS = [v for v in YAML(typ="safe").load((DATA / "decoder-vectors.yaml").read_text()) if "preimage" in v]


@pytest.mark.parametrize("spec,count", [
    (["10.0.0.0/24:80,8080"], 512),
    (["10.0.0.7"], 3),                           # default ports 80, 443, 8080
    (["10.0.0.0/30:8000-8009"], 40),
    (["[fd00::/126]:80"], 4),
    (["10.0.0.1:80;10.0.0.2:80"], 2),
])
def test_parse(spec, count):
    assert recovery.count(recovery.parse(spec)) == count


@pytest.mark.parametrize("spec,message", [
    ("10.0.0.0/33:80", "'10.0.0.0/33:80': "),
    ("10.0.0.1:http", "not an address, range or ports"),
    ("10.0.0.1:0", "ports must be 1-65535"),
    ("10.0.0.0/8:80,443", "more than the 4,194,304 stickyguard will try"),
])
def test_parse_errors(spec, message):
    with pytest.raises(recovery.CandidateError, match=message.replace("(", r"\(")):
        recovery.parse([spec])


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['vendor']}-{v['value'][:10]}")
def test_recovers_each_hashed_vector(vector):
    host, _, port = vector["preimage"].rpartition(":")
    host = host.split("://")[-1]
    ranges = recovery.parse([f"{host.rsplit('.', 1)[0]}.0/24:{port}"])
    found = recovery.recover(ranges, [vector["value"]])
    assert found[vector["value"]][:2] == (host, int(port))


def test_fnv_known_values():
    # Go's hash/fnv test vectors for the empty input and "a".
    assert recovery.fnv1a64(b"") == 0xCBF29CE484222325
    assert recovery.fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert recovery.fnv1_64(b"a") == 0xAF63BD4C8601B7BE


def test_caddy_hmac_with_empty_key():
    value = hmac.new(b"", b"10.9.8.7:443", hashlib.sha256).hexdigest()
    assert recovery.recover(recovery.parse(["10.9.8.0/24:443"]), [value])[value][:2] == ("10.9.8.7", 443)


def test_a_whole_slash_16_with_two_ports():
    # bench/recovery_speed.py measures how long this takes; here only that it is found.
    target = hashlib.md5(b"10.0.255.254:8080").hexdigest()
    found = recovery.recover(recovery.parse(["10.0.0.0/16:80,8080"]), [target])
    assert found[target][:2] == ("10.0.255.254", 8080)


def test_nothing_found():
    assert recovery.recover(recovery.parse(["10.0.0.0/30:80"]), ["0" * 32]) == {}
