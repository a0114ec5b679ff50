import json
import random

from stickyguard.addons.demo import capture as demo_capture
from stickyguard.audit import api


def test_the_shipped_capture_is_what_the_encoders_make_now():
    # Regenerate with `python -m stickyguard.addons.demo.capture` after changing an encoder or a site.
    assert demo_capture.PATH.read_text(encoding="utf-8") == demo_capture.render()


def test_every_site_is_its_own_registrable_domain_and_one_request_is_third_party():
    har = json.loads(demo_capture.render())
    entries = har["log"]["entries"]
    assert len(entries) == len(demo_capture.sites(random.Random(0)))
    pages = {p["id"]: p["title"] for p in har["log"]["pages"]}
    third = [e for e in entries if pages[e["pageref"]] != e["request"]["url"]]
    assert [e["request"]["url"] for e in third] == ["https://widget.chat.example/widget.js"]
    assert all("made by stickyguard's encoders" in e["comment"] for e in entries)


def test_the_audit_decodes_what_each_balancer_leaks():
    rules, catalog = api.load_rules()
    auditor = api.new_audit(rules, catalog)
    inputs, errors = api.read_inputs(auditor, [str(demo_capture.PATH)])
    report = auditor.report(inputs, errors, "2026-11-29T00:00:00Z", api.tool_info(rules)).as_dict()
    assert errors == []
    decoded = {(c["host"], c["name"]): c["decoded"] or {} for c in report["cookies"]}
    assert decoded[("www.shop.example", "BIGipServer~Common~shop_pool")]["ip"] == "10.1.20.11"
    assert decoded[("online.bank.example", "NSC_wt_cbol_iuuqt")]["vserver"] == "vs_bank_https"
    assert decoded[("www.news.example", "SERVERID")]["server"] == "web03"
    assert decoded[("edge.media.example", "sticky-host")]["port"] == 9000
    assert decoded[("pay.payments.example", "sto-id-47873-finprd")]["ip"] == "172.16.8.40"
    assert decoded[("apps.saas.example", "_TRAEFIK_BACKEND")]["url"] == "http://10.42.0.17:8080"
    vendors = {c["vendor"] for c in report["cookies"]}
    assert {"f5-bigip", "citrix-netscaler", "haproxy", "aws-alb", "traefik", "ingress-nginx", "envoy",
            "a10-thunder", "caddy", "cloudflare"} <= vendors
    verdicts = {s["site"]: s["exemption"]["verdict"] for s in report["sites"]}
    assert verdicts["chat.example"] == verdicts["travel.example"] == "outside the exemption"
    assert verdicts["shop.example"] == "within the exemption"
