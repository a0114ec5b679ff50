"""The README is the manual: its commands run as written, and its rule catalog is generated.

Every line of a ```sh block is a command. They run in the README's order, in a scratch folder that
links to the checkout's files (so `tests/data/...` and `addons/...` paths work and nothing is
written into the checkout), with the test environment's `stickyguard` first on PATH and HOME in
the scratch folder. A proxy command (balance, record, mitmdump, demo --keep-running) must come up
and stop cleanly on Ctrl-C. The few commands not run say why in SKIP.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stickyguard.audit import cli
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # real processes: left out of `make check`

README = ROOT / "README.md"
CATALOG = re.compile(r"(<!-- rule-catalog: begin[^\n]*-->\n)(.*?)(<!-- rule-catalog: end -->)", re.S)
SKIP = {
    "stickyguard probe https://shop.example/ --sessions 40 --format html -o probe.html": "sends traffic to a public "
    "site; tests/e2e/test_probe_e2e.py probes HAProxy, nginx and stickyguard's balancer on loopback instead",
    "stickyguard probe http://127.0.0.1:8080/ --source-address 127.0.0.2 --source-address 127.0.0.3": "needs a "
    "balancer on 127.0.0.1:8080; tests/e2e/test_probe_e2e.py starts HAProxy and probes it from four source addresses",
    "stickyguard probe http://127.0.0.1:8080/ --source-address 127.0.1.1 --source-address 127.0.2.1 "
    "--source-address 127.0.3.1": "needs a balancer on 127.0.0.1:8080; tests/e2e/test_probe_e2e.py starts HAProxy "
    "and nginx and probes them from several source addresses",
    "make demo": ".ci/run runs it on a fresh clone; tests/e2e/test_demo_e2e.py runs `stickyguard demo`",
    "make test": "this is make test",
    "pipx inject mitmproxy stickyguard": "installs from the package registry; test_packaging.py injects the "
    "built wheel into a plain mitmproxy venv instead",
    "make check": "make test runs the same lint and type checks and a superset of its tests",
    "python3 -m venv .venv && .venv/bin/pip install -e .": "installs from the package registry; "
    "test_packaging.py installs the built wheel into a fresh venv instead",
    ".venv/bin/stickyguard --version": "needs the .venv made by the skipped line before it",
    "pip wheel --no-deps -w dist . && pip install dist/stickyguard-*.whl": "would replace the installation under "
    "test; test_packaging.py builds the wheel and installs it into a fresh venv",
}
# The README's backends are examples on a private network (10.0.0.x:PORT); run here, they point at a
# loopback port where nothing listens, so no health probe or request leaves the machine (nor reaches
# the proxy under test on its own port).
PRIVATE_EXAMPLE = re.compile(r"\b10\.0\.0\.\d{1,3}(?::\d+)?(?![\d/])")
PROXY = re.compile(r"^(stickyguard (balance|record)|mitmdump) |--keep-running")


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_the_first_two_commands_are_make_demo_and_make_test():
    assert readme_commands()[:2] == ["make demo", "make test"]


def test_every_skip_names_a_readme_command():
    assert set(SKIP) <= set(readme_commands())


def test_the_rule_catalog_is_generated_from_the_rules(request, ruleset):
    text = README.read_text(encoding="utf-8")
    m = CATALOG.search(text)
    assert m, "README.md lost its rule-catalog markers"
    generated = cli.rules_markdown(ruleset)
    if request.config.getoption("--update-golden"):
        text = text[: m.start(2)] + generated + text[m.end(2):]
        README.write_text(text, encoding="utf-8")
        m = CATALOG.search(text)
    assert m.group(2) == generated, "the README's rule catalog is stale: make test PYTEST_ARGS=--update-golden"


OPTIONS_TABLE = re.compile(r"(<!-- balancer-options: begin[^\n]*-->\n)(.*?)(<!-- balancer-options: end -->)", re.S)


def test_the_balancer_options_table_is_generated_from_their_declaration(request):
    from stickyguard.addons import launch

    text = README.read_text(encoding="utf-8")
    m = OPTIONS_TABLE.search(text)
    assert m, "README.md lost its balancer-options markers"
    generated = launch.options_markdown()
    if request.config.getoption("--update-golden"):
        text = text[: m.start(2)] + generated + text[m.end(2):]
        README.write_text(text, encoding="utf-8")
        m = OPTIONS_TABLE.search(text)
    assert m.group(2) == generated, "the README's options table is stale: make test PYTEST_ARGS=--update-golden"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    for entry in ("addons", "audit", "bench", "rules", "tests", "Makefile", "pyproject.toml"):
        (work / entry).symlink_to(ROOT / entry)
    _self_signed_pem(work / "site.pem")  # the certificate an operator brings for --certs
    env = dict(os.environ, HOME=str(work), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               SOURCE_DATE_EPOCH="1767225600")
    return work, env


def _self_signed_pem(path: Path) -> None:
    from tests.e2e.test_balancer_e2e import _self_signed_pem as make

    make(path)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_written(workspace, command):
    if command in SKIP:
        pytest.skip(SKIP[command])
    work, env = workspace
    command = PRIVATE_EXAMPLE.sub("127.0.0.1:1", command)
    if PROXY.search(command):
        _run_proxy(command, work, env)
        return
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    # An audit that finds something exits 1 by design (--fail-on); anything else must succeed.
    allowed = (0, 1) if re.match(r"^(stickyguard|python -m stickyguard.audit) audit ", command) else (0,)
    assert proc.returncode in allowed, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    if command.startswith("stickyguard demo"):
        assert "lost requests: 0\n" in proc.stdout


def _run_proxy(command: str, work: Path, env: dict) -> None:
    """Start it, see it come up, Ctrl-C it, and expect a clean stop."""
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        if "--keep-running" in command:
            deadline = time.monotonic() + 120
            while "Ctrl-C stops everything" not in (line := proc.stdout.readline()):
                assert line and time.monotonic() < deadline, "the demo never said it was still up"
        else:
            listen = re.search(r"--listen (\S+)", command)
            port = int(shlex.split(listen.group(1))[0].rsplit(":", 1)[1]) if listen else 8080
            _wait_for_port(port, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-2000:]}\n{err[-3000:]}"
    assert "Traceback" not in err


def _wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}: {proc.stderr.read()[-3000:]}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listened on {port} within {seconds:.0f} s")


def test_the_performance_section_is_the_latest_bench_table():
    """`make bench` pastes bench/run_all.py's table into the README and keeps it in bench/latest.md."""
    sys.path.insert(0, str(ROOT / "bench"))
    import figures

    latest = figures.LATEST.read_text(encoding="utf-8")
    assert figures.readme_section() == latest
    rows = [line for line in latest.splitlines() if line.startswith("| ") and not line.startswith("| area")]
    whats = " ".join(rows)
    for needed in ("cookie /", "a new session each request", "app-cookie, memory", "app-cookie, SQLite", "ip /",
                   "route /", "recorder alone", "balancer with recorder", "1,000 backends / 3", "health checks",
                   "session table", "json.load", "start-up", "peak memory"):
        assert needed in whats, f"the bench table has no row for {needed!r}"
    for row in rows:  # every figure with an aim says whether it holds
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert (cells[3] == "") == (cells[4] == ""), row
