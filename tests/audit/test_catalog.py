import base64
import shutil

import pytest

from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import rules as rule_data
from stickyguard.audit.cookies import observe
from stickyguard.audit.records import Exchange


@pytest.mark.parametrize(
    "name,value,vendor,by",
    [
        ("BIGipServerweb_pool", "1677787402.36895.0000", "f5-bigip", "name and value"),
        ("BIGipServerweb_pool", "!encrypted", "f5-bigip", "name"),
        ("dr_who", "375537930.544.0000", "f5-bigip", "value"),
        ("persist", "rd2o00000000000000000000ffffc0a80a0ao8080", "f5-bigip", "value"),
        ("NSC_Qspe-xxx.bwjwb.dp.vl-IUUQ", "ffffffff50effd8445525d5f4f58455e445a4a423660", "citrix-netscaler", "name and value"),
        ("custom", "ffffffff50effd8445525d5f4f58455e445a4a423660", "citrix-netscaler", "value"),
        ("SERVERID", "s1", "haproxy", "name"),
        ("AWSALB", "x", "aws-alb", "name"),
        ("AWSALBAPP-0", "_remove_", "aws-alb", "name"),
        ("AWSELB", "ABCDEF", "aws-elb", "name"),
        ("ARRAffinity", "a" * 64, "azure-app-service", "name"),
        ("ARRAffinitySameSite", "a" * 64, "azure-app-service", "name"),
        ("ApplicationGatewayAffinity", "x", "azure-application-gateway", "name"),
        ("GCLB", "CL2Ei7bTo4-YmAEQAw", "google-cloud-lb", "name"),
        ("__cflb", "0H28vgHxwvgAQtjUGU4vtT8baSQqp6P", "cloudflare", "name"),
        ("_TRAEFIK_BACKEND", "http://10.0.0.3:80", "traefik", "name and value"),
        ("_76eb3", "http://10.0.0.3:80", "traefik", "name"),
        ("INGRESSCOOKIE", "1598371152.898.2320.533481", "ingress-nginx", "name and value"),
        ("ROUTEID", ".1", "apache-mod-proxy-balancer", "name"),
        ("JSESSIONID", "7D8A2F0B4C1E9A3D5F6B8C0E2A4D6F81.node2", "tomcat-jvmroute", "name and value"),
        ("sticky-host", "anything", "envoy", "name"),
        ("my-session", base64.b64encode(b"10.0.0.12:8080").decode(), "envoy", "value"),
        ("lb", "a" * 64, "caddy", "name and value"),
        ("X-Oracle-BMC-LBS-Route", "x", "oracle-oci-lb", "name"),
        ("sto-id-47873-finprd_8443", "ICAJBCKMPLCA", "a10-thunder", "name and value"),
        ("JSESSIONID", "0000A2MB4IJozU_VM8IffsMNfdR:v544d0o0", "ibm-websphere", "name and value"),
        ("JSESSIONID", "Gk1qXhT1!-1429396839!1700000000000", "oracle-weblogic", "name and value"),
        ("akaalb_www", "~op=lb:www_RESTON|~rv=1", "akamai-alb", "name"),
        ("heroku-session-affinity", "x", "heroku", "name"),
        ("nlbi_123456", "x", "imperva", "name"),
        ("incap_ses_1_123456", "x", "imperva", "name"),
        ("BNI_persistence", "x", "barracuda", "name"),
        ("BNIS_x", "x", "barracuda", "name"),
        ("FGTServer", "ABCDEF", "fortinet", "name"),
        ("AlteonP", "x$$", "radware-alteon", "name"),
        ("sg_affinity", "s1." + "A" * 60, "stickyguard", "name and value"),
        ("__Host-sg_affinity", "s1.AQ" + "-_x" * 20, "stickyguard", "name and value"),
        # The heuristic: a name made of an affinity word, no vendor named.
        ("route", "5f1c9e", None, "heuristic"),
        ("lb_route", "x", None, "heuristic"),
        ("stickySession", "x", None, "heuristic"),
        ("PERSIST_web", "x", None, "heuristic"),
        ("srv_pool", "x", None, "heuristic"),
        # Shared names: the value's shape decides; a vendor's value signature outranks another's name.
        ("JSESSIONID", "web02~9F3A1C77E0B2", "haproxy", "name and value"),
        ("SERVERID", "1677787402.36895.0000", "f5-bigip", "value"),
        ("SERVERID", "0" * 31 + "a|1700000000|1699990000", "alibaba-slb", "name and value"),
        ("SERVERID", "8b3d4e2f9a1c7b05", "haproxy", "name"),
        ("SRV", "app03", "haproxy", "name"),
        ("INGRESSCOOKIE", "srv001", "haproxy-ingress", "name and value"),
        ("INGRESSCOOKIE", "0123456789abcdef", "traefik-ingress-nginx", "name and value"),
        ("mysrv", "web1|ZVPxA|ZVPJ8", "haproxy", "value"),
        ("APPSESSION", "Gk1qXhT1aB3dE5fG7hJ9kL!-1429396839", "oracle-weblogic", "value"),
        ("keep", "!" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "f5-bigip", "value"),
        ("__VCAP_ID__", "2b5f6d3e-1c4a-4f7b-9e8d-0a1b2c3d4e5f", "cloud-foundry", "name"),
        ("GCILB", "x", "google-cloud-lb", "name"),
        ("persist", "ICAJBCKMPLCA", "a10-thunder", "value"),
        ("srv_id", "b", "nginx", "name"),
        ("e" * 32, "f" * 32, "openshift-router", "name and value"),
        ("s", base64.b64encode(b'{"address":"10.0.0.5:8080","expires":1234}').decode(), "envoy", "value"),
        ("s", base64.b64encode(b"\x0a\x0e10.0.0.12:8080\x10\x05").decode(), "envoy", "value"),
        ("lb", "not-a-caddy-hash", None, "heuristic"),
    ],
)
def test_classify(catalog, name, value, vendor, by):
    found = catalog.classify(name, value)
    assert found is not None and found.affinity
    assert (found.vendor.id if found.vendor else None, found.by) == (vendor, by)


@pytest.mark.parametrize(
    "name,value",
    [
        ("JSESSIONID", "7D8A2F0B4C1E9A3D5F6B8C0E2A4D6F81"),  # no jvmRoute suffix: an app session
        ("PHPSESSID", "3c1a5b0e9d7f2a4c6e8b0d2f4a6c8e0b"),
        ("theme", "dark"),
        ("album", "x"),                                     # "lb" inside a word is not the word
        ("_ga", "GA1.2.1234567890.1700000000"),
        ("session", base64.b64encode(b"user=42;role=admin").decode()),
        ("_76eb3x", "x"),
        # Value signatures that a word could fake are checked by their decoders.
        ("flag", "ABCDEFGHIJKL"),                           # 12 letters A-P, but a public address
        ("ver", "3.0.0000"),                                # x.0.0.0 is a network, not a pool member
        ("y", "srv|zzzzz|zzzzz"),                           # HAProxy dates in 2080
        ("pref", "theme|light|hello"),
    ],
)
def test_not_affinity(catalog, name, value):
    assert catalog.classify(name, value) is None


def test_gateway_session_cookies_are_netscaler_but_not_affinity(catalog):
    found = catalog.classify("NSC_TMAS", "b3f6a0e1d2c4")
    assert (found.vendor.id, found.affinity) == ("citrix-netscaler", False)


def test_vendor_and_generic_readings_merge(catalog):
    facts = catalog_mod.classify_and_decode(catalog, "SERVERID", "10.0.3.4:8080")
    assert facts["decoded"] | {} == {"server": "10.0.3.4:8080", "ip": "10.0.3.4", "port": 8080,
                                     "address_class": "private", "confidence": "high"}
    facts = catalog_mod.classify_and_decode(catalog, "ROUTEID", ".10.9.8.7")
    assert (facts["decoded"]["route"], facts["decoded"]["ip"]) == ("10.9.8.7", "10.9.8.7")


@pytest.mark.parametrize("name,value", [
    ("backendUser", "jdoe"), ("backend_lang", "en"), ("srv_time", "1700000000"), ("backend", "shop.example.com"),
])
def test_a_word_in_the_name_does_not_make_the_value_a_server(catalog, name, value):
    assert catalog_mod.classify_and_decode(catalog, name, value)["decoded"] is None


def test_a_server_named_cookie_holding_one_name_is_read_as_that_server(catalog):
    assert catalog_mod.classify_and_decode(catalog, "serverId", "web-abcde")["decoded"] == {
        "server": "web-abcde", "confidence": "low"}


def test_a_value_recognised_by_its_shape_alone_is_read_at_medium_confidence(catalog):
    facts = catalog_mod.classify_and_decode(catalog, "stick", "MTAuMC4wLjU6ODA4MA==")
    assert (facts["vendor"], facts["classified_by"], facts["decoded"]["confidence"]) == ("envoy", "value", "medium")


def test_the_sites_own_url_is_no_backend_url(catalog):
    facts = catalog_mod.classify_and_decode(catalog, "lb", "https://shop.example.com/")
    assert facts["vendor"] is None and facts["decoded"] is None


def test_apply_decodes(catalog):
    ex = Exchange("https://shop.example/", "GET", 200, [],
                  [("Set-Cookie", "BIGipServerweb=1677787402.36895.0000")], None, None, "t", "entry 0")
    (obs,) = observe(ex)
    catalog_mod.apply(catalog, obs)
    assert (obs.vendor, obs.vendor_name, obs.affinity, obs.classified_by) == (
        "f5-bigip", "F5 BIG-IP LTM", True, "name and value")
    assert obs.decoded["ip"] == "10.1.1.100"


def test_every_named_decoder_exists(catalog):
    from stickyguard.audit.decoders import DECODERS

    assert catalog.decoder_names() <= set(DECODERS)


def test_cookie_classes(catalog):
    assert {"affinity", "other", "any", "f5-bigip", "haproxy"} <= catalog.cookie_classes()


def test_extra_catalog_replaces_vendor_by_id(tmp_path):
    (tmp_path / "affinity-cookies.yaml").write_text(
        "vendors:\n"
        "  - id: haproxy\n"
        "    name: HAProxy (ours)\n"
        "    cookies:\n"
        "      - name: MYLB\n"
        "    references: [https://example.org/]\n"
        "heuristic:\n"
        "  tokens: [shard]\n"
        "  references: [https://example.org/]\n"
    )
    cat = catalog_mod.load([rule_data.RULES_DIR, tmp_path])
    assert cat.classify("MYLB", "x").vendor.name == "HAProxy (ours)"
    assert cat.classify("SERVERID", "x").vendor is None      # replaced entry; the heuristic still sees it
    assert cat.classify("shard_id", "x").by == "heuristic"


def test_unknown_decoder_is_a_rule_file_error(tmp_path):
    shutil.copy(rule_data.RULES_DIR / "affinity-cookies.yaml", tmp_path / "affinity-cookies.yaml")
    path = tmp_path / "affinity-cookies.yaml"
    text = path.read_text().replace("decoder: bigip", "decoder: bigipp", 1)
    path.write_text(text)
    line = text.splitlines().index("        decoder: bigipp") + 1
    with pytest.raises(rule_data.RuleFileError) as e:
        catalog_mod.load([tmp_path])
    from stickyguard.audit.decoders import DECODERS

    assert e.value.problems == [
        f"{path}:{line}: vendors/0/cookies/0/decoder: no decoder 'bigipp' (known: {', '.join(sorted(DECODERS))})"]


def test_invalid_regex_is_a_rule_file_error(tmp_path):
    path = tmp_path / "affinity-cookies.yaml"
    path.write_text(
        "vendors:\n"
        "  - id: x\n"
        "    name: X\n"
        "    cookies:\n"
        "      - value: '^(unclosed'\n"
        "    references: [https://example.org/]\n"
        "heuristic:\n"
        "  tokens: [lb]\n"
        "  references: [https://example.org/]\n"
    )
    with pytest.raises(rule_data.RuleFileError) as e:
        catalog_mod.load([tmp_path])
    assert e.value.problems == [f"{path}:5: vendors/0/cookies/0/value: '^(unclosed' is not a 'regex'"]
