import ipaddress
import random

import pytest

from stickyguard.audit import decoders
from stickyguard.audit import encoders
from stickyguard.audit import recovery


def random_ip(rng, v6=False):
    return str(ipaddress.IPv6Address(rng.getrandbits(128)) if v6 else ipaddress.IPv4Address(rng.getrandbits(32)))


def test_bigip_matches_the_k6917_worked_example():
    assert encoders.bigip("10.1.1.100", 8080) == "1677787402.36895.0000"
    assert encoders.bigip("192.0.2.1", 80, route_domain=5) == "rd5o00000000000000000000ffffc0000201o80"
    assert encoders.bigip("2001:db8::30", 80) == "vi20010db8000000000000000000000030.20480"


@pytest.mark.parametrize("seed", range(5))
def test_bigip_round_trip(seed):
    rng = random.Random(seed)
    for _ in range(200):
        ip, port = random_ip(rng, v6=rng.random() < 0.5), rng.randrange(1, 65536)
        rd = rng.choice([None, rng.randrange(1, 4096)])
        decoded = decoders.bigip("BIGipServerp", encoders.bigip(ip, port, rd))
        assert (decoded["ip"], decoded["port"], decoded.get("route_domain")) == (ip, port, rd)


@pytest.mark.parametrize("seed", range(3))
def test_netscaler_a10_envoy_round_trip(seed):
    rng = random.Random(seed)
    for _ in range(200):
        ip, port = random_ip(rng), rng.randrange(1, 65536)
        assert decoders.netscaler("NSC_x", encoders.netscaler(ip, port))["ip"] == ip
        a10 = decoders.a10("sto-id", encoders.a10(ip, port))
        assert (a10["ip"], a10["port"]) == (ip, port)
        envoy = decoders.envoy("s", encoders.envoy(ip, port))
        assert (envoy["ip"], envoy["port"]) == (ip, port)
    v6 = decoders.envoy("s", encoders.envoy("fd00::7", 9000))
    assert (v6["ip"], v6["port"]) == ("fd00::7", 9000)


def test_names_round_trip():
    value = encoders.netscaler("10.2.3.4", 443)
    assert decoders.netscaler(encoders.netscaler_name("vs_Bank-zZ_443"), value)["vserver"] == "vs_Bank-zZ_443"
    decoded = decoders.a10(encoders.a10_name(8443, "finprd"), encoders.a10("10.2.3.4", 8443))
    assert (decoded["vport"], decoded["service_group"]) == (8443, "finprd")


def test_haproxy_dates_round_trip_to_four_seconds():
    value = encoders.haproxy("web03", last_seen=1_700_000_123, first_seen=1_699_990_000)
    decoded = decoders.haproxy("SERVERID", value)
    assert decoded["server"] == "web03"
    assert decoded["last_seen"] == "2023-11-14T22:15:24Z"   # HAProxy keeps time in 4 s steps
    assert decoded["first_seen"] == "2023-11-14T19:26:40Z"
    assert encoders.haproxy("web03") == "web03"


def test_hashed_forms_are_recovered_from_candidates():
    ranges = recovery.parse(["10.9.0.0/24:8080"])
    md5 = encoders.ingress_nginx_md5("10.9.0.77", 8080)
    sha = encoders.traefik_sha256("http://10.9.0.78:8080")
    hm = encoders.caddy("10.9.0.79", 8080)
    found = recovery.recover(ranges, [md5, sha, hm])
    assert {v: found[v][:2] for v in found} == {md5: ("10.9.0.77", 8080), sha: ("10.9.0.78", 8080),
                                                 hm: ("10.9.0.79", 8080)}
    assert decoders.ingress_nginx("INGRESSCOOKIE", md5)["hash"] == "md5"
    assert decoders.traefik("_x", sha)["hash_of"] == "backend URL"
    assert decoders.caddy("lb", hm)["hash"] == "hmac-sha256"
    assert encoders.caddy("10.9.0.79", 8080, secret=b"k") != hm
