
import pytest

from stickyguard.audit import decoders
from stickyguard.audit import evidence


class TestBigip:
    @pytest.mark.parametrize(
        "name,value,ip,port,extra",
        [
            # F5 K6917's worked example.
            ("BIGipServerpool", "1677787402.36895.0000", "10.1.1.100", 8080, {"pool": "pool"}),
            ("BIGipServerweb", "1677787402.20480.0000", "10.1.1.100", 80, {"pool": "web"}),
            ("BIGipServerweb", "1677787402.47873.0000", "10.1.1.100", 443, {"pool": "web"}),
            ("BIGipServer~Common~app", "584628317.20480.0000", "93.184.216.34", 80, {"pool": "~Common~app"}),
            ("dr_who", "1677787402.36895.0000", "10.1.1.100", 8080, {}),
            ("BIGipServerrd", "rd5o00000000000000000000ffffc0000201o80", "192.0.2.1", 80,
             {"pool": "rd", "route_domain": 5}),
            ("BIGipServerrd", "RD5O00000000000000000000FFFFC0000201O80", "192.0.2.1", 80,
             {"pool": "rd", "route_domain": 5}),
            ("BIGipServerv6", "vi20010db8000000000000000000000030.20480", "2001:db8::30", 80, {"pool": "v6"}),
            ("BIGipServerv6", "rd3o20010db8000000000000000000000030o80", "2001:db8::30", 80,
             {"pool": "v6", "route_domain": 3}),
            # Envoy-style quoting around the value does not hide it.
            ("BIGipServerq", '"1677787402.36895.0000"', "10.1.1.100", 8080, {"pool": "q"}),
        ],
    )
    def test_vectors(self, name, value, ip, port, extra):
        decoded = decoders.bigip(name, value)
        assert decoded["ip"] == ip and decoded["port"] == port
        for key, val in extra.items():
            assert decoded[key] == val
        assert decoded["confidence"] == "high"

    def test_encrypted_value_names_only_the_pool(self):
        assert decoders.bigip("BIGipServerweb", "!Zm9vYmFyYmF6cXV1eA==") == {
            "pool": "web", "encrypted": True, "confidence": "high"}
        assert decoders.bigip("custom", "!Zm9vYmFy") is None

    @pytest.mark.parametrize(
        "value",
        [
            "127.0.0.1.1337.0000",          # the nuclei PR #601 negative: in no K6917 format
            "4294967296.20480.0000",        # address beyond 32 bits
            "1677787402.65536.0000",        # port beyond 16 bits
            "1677787402.36895.0001",
            "vi2001.80",
            "rd1o0a000001o80",
            "",
            "!",
        ],
    )
    def test_negatives(self, value):
        assert decoders.bigip("BIGipServerweb", value) is None



@pytest.mark.parametrize(
    "ip,klass",
    [
        ("10.1.1.100", "private"), ("172.16.5.4", "private"), ("192.168.0.1", "private"),
        ("100.64.1.1", "shared"), ("127.0.0.1", "loopback"), ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"), ("fd00::42", "private"), ("::1", "loopback"),
        ("192.0.2.1", "documentation"), ("2001:db8::1", "documentation"),
        ("93.184.216.34", "public"), ("2606:2800:220:1::1", "public"),
        ("::ffff:10.0.0.1", "private"), ("240.0.0.1", "reserved"),
    ],
)
def test_address_class(ip, klass):
    assert decoders.address_class(ip) == klass


def test_registry_names_functions():
    assert all(decoders.DECODERS[name] is getattr(decoders, name) for name in decoders.DECODERS)


# --- every vendor's vectors, with their public sources (tests/data/decoder-vectors.yaml) ---

from ruamel.yaml import YAML  # noqa: E402

from tests.conftest import DATA  # noqa: E402

VECTORS = YAML(typ="safe").load((DATA / "decoder-vectors.yaml").read_text())


def _vector_id(v):
    return f"{v['vendor']}-{v['kind']}-{v['value'][:12]}"


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_vector(catalog, vector):
    found = catalog.classify(vector["name"], vector["value"])
    if vector["kind"] == "negative":
        decoder = decoders.DECODERS.get(found.decoder) if found and found.decoder else None
        result = decoder(vector["name"], vector["value"]) if decoder else None
        assert result is None or "ip" not in result and "route" not in result and "last_seen" not in result
        return
    assert found is not None and found.vendor.id == vector["vendor"]
    if vector["kind"] == "detect-only":
        assert found.decoder is None
        return
    decoded = decoders.DECODERS[found.decoder](vector["name"], vector["value"])
    assert decoded is not None
    for key, value in vector["decoded"].items():
        assert str(decoded[key]) == str(value), key
    # Every key a decoder returns is declared in audit/evidence.py, so conditions and reports know it.
    assert evidence.undeclared(decoded) == set()
    assert vector["source"]


def test_every_decoder_has_a_vector(catalog):
    """A new decoder comes with at least one vector from a public source (tests/data/decoder-vectors.yaml)."""
    used = set()
    for v in VECTORS:
        found = catalog.classify(v["name"], v["value"])
        if v["kind"] not in ("negative", "detect-only") and found and found.decoder:
            used.add(found.decoder)
    assert set(decoders.DECODERS) - used == set()


def test_every_catalog_vendor_has_a_vector(catalog):
    # No public value with a decodable shape was found for these (tests/data/corpus/ holds what was).
    assert set(catalog.vendors) - {v["vendor"] for v in VECTORS} <= {
        "azure-application-gateway", "oracle-oci-lb", "stickyguard", "haproxy-ingress", "traefik-ingress-nginx"}


def test_envoy_protobuf_form():
    import base64

    raw = b"\x0a\x0f127.0.0.1:50002\x10\x90\x4e"
    assert decoders.envoy("s", base64.b64encode(raw).decode())["port"] == 50002


def test_websphere_clone_minus_one_is_no_clone():
    assert decoders.websphere("JSESSIONID", "0000A2MB4IJozU_VM8IffsMNfdR:-1") is None
    assert decoders.websphere("JSESSIONID", "0000A2MB4IJozU_VM8IffsMNfdR:-1:v544d0o0")["server_id"] == "v544d0o0"


def test_netscaler_name_shift():
    value = "ffffffff50effd8445525d5f4f58455e445a4a423660"
    assert decoders.netscaler("NSC_bAzZ-09", value)["vserver"] == "aZyY-09"
    assert decoders.netscaler("NSC_bAzZ-09", "nothex") is None  # an opaque value names nothing


@pytest.mark.parametrize(
    "fn,name,value",
    [
        (decoders.haproxy, "SERVERID", ""),
        (decoders.haproxy, "SERVERID", "web1|AAAAA"),       # a date before 2000 is not a date
        (decoders.route_suffix, "ROUTEID", "nodot"),
        (decoders.websphere, "JSESSIONID", "0000short:1"),
        (decoders.weblogic, "JSESSIONID", "abc!notanumber"),
        (decoders.envoy, "s", "bm90IGFuIGFkZHJlc3M="),     # base64 of "not an address"
        (decoders.ingress_nginx, "INGRESSCOOKIE", "hello"),
        (decoders.traefik, "_TRAEFIK_BACKEND", "not-a-url-or-hash!"),
        (decoders.akamai, "akaalb_x", "~rv=1"),
        (decoders.heroku, "heroku-session-affinity", "Zm9vYmFy"),
        (decoders.azure_arr, "ARRAffinity", "tooshort"),
        (decoders.imperva, "incap", "x"),
        (decoders.caddy, "lb", "abc"),
    ],
)
def test_decoder_negatives(fn, name, value):
    assert fn(name, value) is None
