"""The demo's capture of other balancers' cookies, made by our own encoders (audit/encoders.py).

`stickyguard demo` audits it beside its own recording, so a newcomer sees what the audit decodes
from BIG-IP, NetScaler, HAProxy, AWS, Traefik, ... cookies without visiting those sites. The file
ships in the package (`addons/demo/data/other-balancers.har`); every value is built here, from
documentation-range and private addresses, so regenerating it gives the same bytes:

    python -m stickyguard.addons.demo.capture            # rewrites the shipped file
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sys
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from email.utils import format_datetime
from pathlib import Path

from stickyguard.audit import clock
from stickyguard.audit import encoders

PATH = Path(__file__).with_name("data") / "other-balancers.har"
WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
SEED = 6265  # fixed: the opaque values must not change between runs


def _opaque(rng: random.Random, n: int) -> str:
    """An opaque token like AWS's (base64 of encrypted bytes; nothing to decode)."""
    return base64.b64encode(rng.randbytes(n)).decode().rstrip("=")


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def sites(rng: random.Random) -> list[tuple[str, str, list[str], str | None]]:
    """(vendor, URL, Set-Cookie lines, top-level page URL when the request was third-party)."""
    week = _http_date(WHEN + timedelta(days=7))
    haproxy = encoders.haproxy("web03", last_seen=int(WHEN.timestamp()), first_seen=int(WHEN.timestamp()) - 86400)
    return [
        ("F5 BIG-IP", "https://www.shop.example/", [
            f"BIGipServer~Common~shop_pool={encoders.bigip('10.1.20.11', 8080)}; path=/",
            f"BIGipServer~DMZ~api_v6={encoders.bigip('fd00:10::21', 443, route_domain=2)}; path=/; Secure; HttpOnly",
        ], None),
        ("Citrix NetScaler", "https://online.bank.example/login", [
            f"{encoders.netscaler_name('vs_bank_https')}={encoders.netscaler('10.20.1.5', 443)};"
            " path=/; secure; httponly",
        ], None),
        ("HAProxy", "https://www.news.example/", [
            f"SERVERID={haproxy}; path=/; Max-Age=2592000",
        ], None),
        ("AWS ALB", "https://api.travel.example/v1/status", [
            f"AWSALB={_opaque(rng, 96)}; Expires={week}; Path=/",
            f"AWSALBCORS={_opaque(rng, 96)}; Expires={week}; Path=/; SameSite=None; Secure",
        ], None),
        ("Traefik", "https://apps.saas.example/", [
            "_TRAEFIK_BACKEND=http://10.42.0.17:8080; Path=/",
        ], None),
        ("ingress-nginx", "https://k8s.cluster.example/", [
            f"INGRESSCOOKIE={encoders.ingress_nginx_md5('10.244.1.12', 8080)}; Path=/; HttpOnly",
        ], None),
        ("Envoy", "https://edge.media.example/", [
            f"sticky-host=\"{encoders.envoy('10.0.3.7', 9000)}\"; Path=/; HttpOnly",
        ], None),
        ("A10 Thunder", "https://pay.payments.example/", [
            f"{encoders.a10_name(443, 'finprd')}={encoders.a10('172.16.8.40', 8443)}; Path=/; Secure",
        ], None),
        ("Caddy", "https://blog.writer.example/", [
            f"lb={encoders.caddy('192.168.50.4', 8080)}; Path=/",
        ], None),
        ("Apache mod_proxy_balancer + Tomcat", "https://intranet.corp.example/portal", [
            f"JSESSIONID={hashlib.md5(b'demo-session').hexdigest().upper()}.node2; Path=/portal; HttpOnly",
            "ROUTEID=.node2; path=/",
        ], None),
        ("Cloudflare (third-party widget)", "https://widget.chat.example/widget.js", [
            f"__cflb={_opaque(rng, 22)}; SameSite=None; Secure; path=/; expires={_http_date(WHEN + timedelta(days=1))};"
            " HttpOnly",
        ], "https://www.shop.example/"),
    ]


def build() -> dict:
    pages: dict[str, dict] = {}
    entries: list[dict] = []
    for i, (vendor, url, cookies, top) in enumerate(sites(random.Random(SEED))):
        page_url = top or url
        if page_url not in pages:
            pages[page_url] = {"startedDateTime": _iso(WHEN), "id": f"page_{len(pages) + 1}", "title": page_url,
                               "pageTimings": {}}
        started = _iso(WHEN + timedelta(seconds=i))
        headers = [{"name": "date", "value": _http_date(WHEN + timedelta(seconds=i))},
                   {"name": "content-type", "value": "text/html"}]
        headers += [{"name": "set-cookie", "value": line} for line in cookies]
        entries.append({
            "pageref": pages[page_url]["id"],
            "startedDateTime": started,
            "time": 10,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [], "queryString": [],
                        "cookies": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": headers,
                         "cookies": [], "content": {"size": 0, "mimeType": "text/html"}, "redirectURL": "",
                         "headersSize": -1, "bodySize": 0},
            "cache": {},
            "timings": {"send": 0, "wait": 10, "receive": 0},
            "comment": f"{vendor}: made by stickyguard's encoders (audit/encoders.py), not captured from a real site",
        })
    return {"log": {"version": "1.2", "creator": {"name": "stickyguard demo_capture", "version": "1"},
                    "pages": list(pages.values()), "entries": entries}}


def _iso(moment: datetime) -> str:
    return clock.utc_iso(moment.timestamp(), "milliseconds")


def render() -> str:
    return json.dumps(build(), indent=1) + "\n"


def main() -> int:
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
