"""A built wheel, installed into a fresh virtual environment, finds its rules with no checkout."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes: left out of `make check`

ROOT = Path(__file__).resolve().parent.parent


def plain_venv(env_dir: Path) -> tuple[Path, Path]:
    """A new venv (with pip) whose dependencies come from the test environment, but not stickyguard: the
    registry is not needed, and a .pth adds the test site-packages *after* the venv's own (a .pth there,
    such as the editable install's, is not processed). Returns its python and its site-packages."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    return py, Path(site)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    # Every install would print setuptools' complaint about a data folder it was not told of.
    assert "BuildBackendWarning" not in build.stdout + build.stderr, build.stdout[-3000:]
    (wheel,) = dist.glob("stickyguard-*.whl")
    env_dir = work / "venv"
    py, site = plain_venv(env_dir)
    before = set(os.listdir(site))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    (work / "added").write_text("\n".join(sorted(set(os.listdir(site)) - before)))
    cwd = work / "elsewhere"
    cwd.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "captures" / "shop-headers.txt", cwd / "h.txt")
    return env_dir, cwd, wheel


def test_wheel_ships_rules_and_report_schema(installed):
    import zipfile

    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "stickyguard/audit/rules_data/schema.json" in names
    assert "stickyguard/audit/rules_data/affinity-cookies.yaml" in names
    assert "stickyguard/audit/rules_data/checks/SG101-affinity-cookie-missing-secure.yaml" in names
    assert "stickyguard/audit/report/report.schema.json" in names
    assert "stickyguard/addons/demo/data/other-balancers.har" in names
    # One namespace: nothing generic (audit, addons) at the top of site-packages.
    assert {name.split("/")[0] for name in names} == {"stickyguard", "stickyguard-0.1.0.dist-info"}


def test_install_adds_only_stickyguard_to_site_packages(installed):
    env_dir, _, _ = installed
    assert (env_dir.parent / "added").read_text().split() == ["stickyguard", "stickyguard-0.1.0.dist-info"]


def test_installed_copy_finds_its_rules(installed):
    env_dir, cwd, _ = installed
    where = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import stickyguard.audit.rules as r; print(r.RULES_DIR)"],
                           cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(str(env_dir)) and where.endswith("audit/rules_data")
    proc = subprocess.run([str(env_dir / "bin" / "stickyguard"), "rules", "validate"], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rules and the catalog valid" in proc.stdout


def test_installed_console_script_audits(installed):
    env_dir, cwd, _ = installed
    proc = subprocess.run([str(env_dir / "bin" / "stickyguard"), "audit", "h.txt", "--format", "json",
                           "--url", "https://shop.example/"], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "SG201" in {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    proc = subprocess.run([str(env_dir / "bin" / "python"), "-m", "stickyguard.audit", "--version"], cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("stickyguard ")


def test_installed_launcher_runs_the_balancer_and_recorder(installed):
    env_dir, cwd, _ = installed
    exe = str(env_dir / "bin" / "stickyguard")
    proc = subprocess.run([exe, "balance", "--backend", "a=http://127.0.0.1:1", "--affinity", "magic", "--health", "",
                           "--secret-file", str(cwd / "secret"), "--confdir", str(cwd / "conf")],
                          cwd=cwd, capture_output=True, text=True, timeout=120)
    # The addon loaded from the wheel and rejected the option before anything listened.
    assert proc.returncode == 2 and "balance_affinity must be one of" in proc.stderr
    proc = subprocess.run([exe, "record", "--help"], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--listen" in proc.stdout


def test_installed_balancer_serves_and_the_demo_runs(installed):
    import http.client
    import signal
    import socket
    import time

    env_dir, cwd, _ = installed
    exe, py = str(env_dir / "bin" / "stickyguard"), str(env_dir / "bin" / "python")
    shop = subprocess.Popen([py, "-m", "stickyguard.addons.demo.shop", "--name", "solo", "--port", "0"], cwd=cwd,
                            stdout=subprocess.PIPE, text=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    balancer = None
    try:
        shop_port = int(shop.stdout.readline().rsplit(":", 1)[1])
        balancer = subprocess.Popen([exe, "balance", "--listen", f"127.0.0.1:{port}", "--backend",
                                     f"solo=http://127.0.0.1:{shop_port}", "--secret-file", str(cwd / "secret"),
                                     "--confdir", str(cwd / "conf")], cwd=cwd, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/cart")
                resp = conn.getresponse()
                break
            except OSError:
                assert time.monotonic() < deadline and balancer.poll() is None, balancer.stderr.read()
                time.sleep(0.2)
        assert resp.status == 200 and json.loads(resp.read())["backend"] == "solo"
        assert "sg_affinity=s1." in ", ".join(resp.headers.get_all("Set-Cookie"))
        conn.close()
    finally:
        if balancer is not None:
            balancer.send_signal(signal.SIGINT)
            balancer.communicate(timeout=30)
        shop.terminate()
        shop.communicate(timeout=10)
    assert balancer.returncode == 0
    proc = subprocess.run([exe, "demo", "--sessions", "6"], cwd=cwd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lost requests: 0" in proc.stdout and "other-balancers.har" in proc.stdout
    assert (cwd / "demo-report.html").stat().st_size > 10_000


MITMDUMP = "import sys; from mitmproxy.tools.main import mitmdump; sys.exit(mitmdump())"


def test_a_separate_mitmproxy_gets_stickyguard_by_injection(installed, tmp_path):
    """mitmproxy in its own venv (as pipx installs it) cannot run `-s addons/balancer.py` until stickyguard
    is installed into that venv, which is what `pipx inject mitmproxy stickyguard` does; until then the
    addon says so in one line."""
    import http.server
    import socket
    import threading
    import time
    import urllib.request

    _, _, wheel = installed
    py, _ = plain_venv(tmp_path / "mitmproxy-venv")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [str(py), "-c", MITMDUMP, "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
            "--set", f"confdir={tmp_path / 'conf'}", "-s", str(ROOT / "addons" / "balancer.py"),
            "--mode", "reverse:http://127.0.0.1:1", "--set", "connection_strategy=lazy",
            "--set", f"balance_secret_file={tmp_path / 'secret'}", "--set", "balance_health="]

    proc = subprocess.run([*args, "--set", "balance_backends=a=http://127.0.0.1:1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "stickyguard is not installed in the Python that runs mitmproxy: `pipx inject mitmproxy stickyguard`" \
        in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr

    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True, timeout=300)  # what `pipx inject` does
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mitmdump = subprocess.Popen([*args, "--set", f"balance_backends=a=http://127.0.0.1:{server.server_address[1]}"],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    body, cookie = r.read(), r.headers.get("Set-Cookie", "")
                break
            except OSError:
                assert time.monotonic() < deadline and mitmdump.poll() is None, mitmdump.communicate()[0]
                time.sleep(0.2)
        assert body == b"hello" and cookie.startswith("sg_affinity=s1.")
    finally:
        mitmdump.terminate()
        mitmdump.communicate(timeout=30)
        server.shutdown()
        server.server_close()


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass
