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
        ("BIGipServerweb_pool", "1677787402.36895.0000", "f5-bigip", "name"),
        ("BIGipServerweb_pool", "!encrypted", "f5-bigip", "name"),
        ("dr_who", "375537930.544.0000", "f5-bigip", "value"),
        ("persist", "rd2o00000000000000000000ffffc0a80a0ao8080", "f5-bigip", "value"),
        ("NSC_Qspe-xxx.bwjwb.dp.vl-IUUQ", "ffffffff50effd8445525d5f4f58455e445a4a423660", "citrix-netscaler", "name"),
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
        ("_TRAEFIK_BACKEND", "http://10.0.0.3:80", "traefik", "name"),
        ("_76eb3", "http://10.0.0.3:80", "traefik", "name"),
        ("INGRESSCOOKIE", "1598371152.898.2320.533481", "ingress-nginx", "name"),
        ("ROUTEID", ".1", "apache-mod-proxy-balancer", "name"),
        ("JSESSIONID", "7D8A2F0B4C1E9A3D5F6B8C0E2A4D6F81.node2", "tomcat-jvmroute", "name"),
        ("sticky-host", "anything", "envoy", "name"),
        ("my-session", base64.b64encode(b"10.0.0.12:8080").decode(), "envoy", "value"),
        ("lb", "a" * 64, "caddy", "name"),
        ("X-Oracle-BMC-LBS-Route", "x", "oracle-oci-lb", "name"),
        ("sto-id-47873-finprd_8443", "ICAJBCKMPLCA", "a10-thunder", "name"),
        ("JSESSIONID", "0000A2MB4IJozU_VM8IffsMNfdR:v544d0o0", "ibm-websphere", "name"),
        ("JSESSIONID", "Gk1qXhT1!-1429396839!1700000000000", "oracle-weblogic", "name"),
        ("akaalb_www", "~op=lb:www_RESTON|~rv=1", "akamai-alb", "name"),
        ("heroku-session-affinity", "x", "heroku", "name"),
        ("nlbi_123456", "x", "imperva", "name"),
        ("incap_ses_1_123456", "x", "imperva", "name"),
        ("BNI_persistence", "x", "barracuda", "name"),
        ("BNIS_x", "x", "barracuda", "name"),
        ("FGTServer", "ABCDEF", "fortinet", "name"),
        ("AlteonP", "x$$", "radware-alteon", "name"),
        ("sg_affinity", "s1." + "A" * 60, "stickyguard", "name"),
        ("__Host-sg_affinity", "s1.AQ" + "-_x" * 20, "stickyguard", "name"),
        # The heuristic: a name made of an affinity word, no vendor named.
        ("route", "5f1c9e", None, "heuristic"),
        ("lb_route", "x", None, "heuristic"),
        ("stickySession", "x", None, "heuristic"),
        ("PERSIST_web", "x", None, "heuristic"),
        ("SRV", "x", None, "heuristic"),
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
    ],
)
def test_not_affinity(catalog, name, value):
    assert catalog.classify(name, value) is None


def test_apply_decodes(catalog):
    ex = Exchange("https://shop.example/", "GET", 200, [],
                  [("Set-Cookie", "BIGipServerweb=1677787402.36895.0000")], None, None, "t", "entry 0")
    (obs,) = observe(ex)
    catalog_mod.apply(catalog, obs)
    assert (obs.vendor, obs.vendor_name, obs.affinity, obs.classified_by) == (
        "f5-bigip", "F5 BIG-IP LTM", True, "name")
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
    assert e.value.problems == [
        f"{path}:{line}: vendors/0/cookies/0/decoder: no decoder 'bigipp' (known: a10, akamai, azure_arr, bigip, "
        "caddy, envoy, haproxy, heroku, imperva, ingress_nginx, netscaler, route_suffix, traefik, weblogic, websphere)"]


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
