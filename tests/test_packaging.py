"""A built wheel, installed into a fresh virtual environment, finds its rules with no checkout."""

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes: left out of `make check`

ROOT = Path(__file__).resolve().parent.parent


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
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    # Dependencies come from the test environment (the registry is not needed for this check);
    # a .pth adds its site-packages *after* the new venv's own, so our package comes from the wheel.
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    cwd = work / "elsewhere"
    cwd.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "captures" / "shop-headers.txt", cwd / "h.txt")
    return env_dir, cwd, wheel


def test_wheel_ships_rules_and_report_schema(installed):
    import zipfile

    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "audit/rules_data/schema.json" in names
    assert "audit/rules_data/affinity-cookies.yaml" in names
    assert "audit/rules_data/checks/SG101-affinity-cookie-missing-secure.yaml" in names
    assert "audit/report/report.schema.json" in names
    assert "addons/__init__.py" in names


def test_installed_copy_finds_its_rules(installed):
    env_dir, cwd, _ = installed
    where = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import audit.rules as r; print(r.RULES_DIR)"],
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
    proc = subprocess.run([str(env_dir / "bin" / "python"), "-m", "audit", "--version"], cwd=cwd,
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
    shop = subprocess.Popen([py, "-m", "addons.demo_shop", "--name", "solo", "--port", "0"], cwd=cwd,
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
