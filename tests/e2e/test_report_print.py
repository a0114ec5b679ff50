"""The HTML report printed by a real browser: headless Chromium's print to PDF, on A4 and on Letter, of a
report of about 60 findings over 12 sites. It fits in 12 pages, no table is cut at the page edge (every
text run lies within the page, and every inventory column and rule id is there), and the collapsed
blocks print open. The PDFs are kept in test-artifacts/ for a person to look at."""

import json
import shutil
import subprocess

import pytest

from stickyguard.audit import cli
from tests.conftest import ROOT
from tests.conftest import require

pytestmark = pytest.mark.slow  # real processes: left out of `make check`

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--proxy-server=127.0.0.1:9", "--no-pdf-header-footer"]
MAX_PAGES = 12

# What twelve sites set: the balancer cookies people meet, with the flags they are often set with.
SITE_COOKIES = [
    ["BIGipServerpool_web=1677787402.36895.0000; path=/", "JSESSIONID=7D8A2F0B4C1E9A3D.node2; Path=/; HttpOnly"],
    ["NSC_Qspe-xxx.bwjwb.dp.vl-IUUQ=ffffffffc3a01f2445525d5f4f58455e445a4a423660; path=/; secure; httponly"],
    ["AWSALB=Zm9vYmFyYmF6cXV1eA; Expires=Wed, 08 Jan 2025 10:00:00 GMT; Path=/",
     "AWSALBCORS=Zm9vYmFyYmF6cXV1eA; Expires=Wed, 08 Jan 2025 10:00:00 GMT; Path=/; SameSite=None; Secure"],
    ["SERVERID=app2; Path=/"],
    ["_TRAEFIK_BACKEND=http://172.17.0.3:80; Path=/"],
    ["route=1735725600.123.45.678901|abcdef0123456789; Path=/; Domain=.site05.example; HttpOnly"],
    ["BIGipServer~Common~shop_pool=rd5o00000000000000000000ffffc0000201o443; path=/; Secure; HttpOnly"],
    ["ROUTEID=.node1; Path=/", "JSESSIONID=0123456789ABCDEF.jvm3; Path=/; Secure"],
    ["INGRESSCOOKIE=1735725600.123.45.678901|abcdef0123456789; Path=/; Max-Age=172800; HttpOnly"],
    ["backend=MTAuMC4wLjEyOjgwODA=; path=/", "lb=web-03; Path=/; Max-Age=31536000"],
    ["ARRAffinity=4d3c2b1a0f9e8d7c6b5a4d3c2b1a0f9e8d7c6b5a4d3c2b1a0f9e8d7c6b5a4d3c; Path=/; HttpOnly; Domain=site10.example"],
    ["GCLB=CJ3n9Ly8wq7fRhAD; path=/; HttpOnly; expires=Thu, 02-Jan-2025 10:00:00 GMT"],
]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    work = tmp_path_factory.mktemp("print")
    entries = []
    for i, cookies in enumerate(SITE_COOKIES):
        url = f"https://www.site{i:02d}.example/"
        entries.append({
            "startedDateTime": f"2025-01-01T10:{i:02d}:00.000Z", "time": 10,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Sec-Fetch-Dest", "value": "document"}], "cookies": [],
                        "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": "Date", "value": "Wed, 01 Jan 2025 10:00:00 GMT"}]
                         + [{"name": "Set-Cookie", "value": c} for c in cookies],
                         "cookies": [], "content": {"size": 0, "mimeType": "text/html"}, "redirectURL": "",
                         "headersSize": -1, "bodySize": 0},
            "cache": {}, "timings": {"send": 0, "wait": 10, "receive": 0}})
    har = work / "twelve-sites.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                                       "entries": entries}}))
    out, doc = work / "report.html", work / "report.json"
    assert cli.main(["audit", str(har), "--format", "html", "-o", str(out)]) == 1
    cli.main(["audit", str(har), "--format", "json", "-o", str(doc)])
    return out, json.loads(doc.read_text())


def test_the_fixture_is_a_report_of_about_60_findings_over_12_sites(report):
    _, doc = report
    assert len(doc["sites"]) == 12
    assert 50 <= len(doc["findings"]) <= 70, len(doc["findings"])


@pytest.mark.parametrize("paper", ["A4", "letter"])
def test_print_fits_and_cuts_no_table(report, tmp_path, paper):
    require("Chromium", CHROMIUM, "Debian's chromium; .ci/run installs it")
    from pypdf import PdfReader

    html, doc = report
    sized = tmp_path / f"report-{paper}.html"
    sized.write_text(html.read_text().replace("</head>", f"<style>@page {{ size: {paper}; }}</style></head>", 1))
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / f"report-print-{paper}.pdf"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}",
                           sized.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and pdf.exists(), proc.stderr[-2000:]
    reader = PdfReader(pdf)
    assert len(reader.pages) <= MAX_PAGES, f"{len(reader.pages)} pages on {paper}"

    text, outside = [], []
    for number, page in enumerate(reader.pages, 1):
        width = float(page.mediabox.width)

        def visit(run, cm, tm, font, size, number=number, width=width):
            x = cm[4] + tm[4] * cm[0]
            if run.strip() and not 0 <= x <= width:
                outside.append((number, round(x), run[:30]))

        text.append(page.extract_text(visitor_text=visit))
    assert outside == [], f"text beyond the page edge on {paper}: {outside[:5]}"
    printed = " ".join(" ".join(text).split())
    assert printed.count("Decoded") >= 12 and printed.count("Rules") >= 12  # every site's inventory, whole
    for rule in {f["rule"] for f in doc["findings"]}:
        assert rule in printed
    assert "http-bigip-cookie" in printed  # a peer id from a block that is collapsed on screen
    assert "page 1 of" in printed  # the page header and footer boxes
