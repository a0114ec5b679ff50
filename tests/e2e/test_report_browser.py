"""The HTML report in a real browser: headless Chromium (Debian's package) opens it with the
network off, logs no console error, shows the inventory and the findings, at laptop and phone
widths. Screenshots are kept in test-artifacts/ for a person to look at."""

import shutil
import subprocess
from pathlib import Path

import pytest

from stickyguard.audit import cli
from tests.conftest import require

pytestmark = pytest.mark.slow  # real processes: left out of `make check`

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def _needs_chromium():
    require("Chromium", CHROMIUM, "Debian's chromium; .ci/run installs it")

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("html") / "report.html"
    status = cli.main(["audit", str(ROOT / "tests/data/captures/chrome-shop.har"),
                       str(ROOT / "tests/data/captures/firefox-bank.har"), "--format", "html", "-o", str(path)])
    assert status == 1
    return path


def chromium(tmp_path, *args):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_dom_has_inventory_and_findings_and_no_console_error(report, tmp_path):
    proc = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<h2>Cookie inventory</h2>" in dom and "BIGipServer~Common~web_pool" in dom
    assert "<h2>Findings by rule</h2>" in dom and 'id="rule-SG201"' in dom and 'href="#rule-SG201"' in dom
    assert "<h2>Contents</h2>" in dom and "Capture period" in dom
    assert "<svg" in dom and "within the exemption" in dom or "outside the exemption" in dom
    console_errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
    assert console_errors == []


@pytest.mark.parametrize("name,size", [("laptop", "1366,900"), ("phone", "390,844")])
def test_screenshots(report, tmp_path, name, size):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{name}.png"
    proc = chromium(tmp_path, f"--window-size={size}", f"--screenshot={shot}", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank image


def test_nothing_runs_off_a_phone_screen(report, tmp_path):
    """At 390 px no element reaches past the viewport (which would scroll the page sideways). The report has
    no script; a copy made for the test carries one that measures and writes its answer into the DOM."""
    probe = tmp_path / "measured.html"
    probe.write_text(report.read_text().replace("</body>", """<script>
addEventListener("load", () => {
  const wide = [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map(el => el.tagName + " " + (el.textContent || "").trim().slice(0, 40));
  document.body.dataset.wide = JSON.stringify(wide.slice(0, 10));
});
</script></body>"""))
    proc = chromium(tmp_path, "--window-size=390,844", "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-wide="[]"' in proc.stdout, proc.stdout.split("data-wide=", 1)[-1][:600]
