"""Shared fixtures: paths, the built-in rule set, golden files, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stickyguard.audit import catalog as catalog_mod
from stickyguard.audit import cli
from stickyguard.audit import rules as rule_data

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CAPTURES = DATA / "captures"
BAD = DATA / "bad"
GOLDEN = DATA / "golden"
FIXED_EPOCH = "1735725600"  # 2025-01-01T10:00:00Z, so reports are reproducible


def require(tool: str, found: object, how: str) -> None:
    """A real part a test needs (a server, a browser). On a developer's machine its absence skips the test
    with the reason; under CI (`.ci/run` sets CI) it fails, so a broken install step cannot pass as green."""
    if found:
        return
    reason = f"{tool} is not installed ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI (CI is set) runs every test that needs it", pytrace=False)
    pytest.skip(reason)


def assert_valid(schema: dict, doc: object) -> None:
    """`doc` follows `schema` (itself a valid JSON Schema 2020-12), formats checked; the errors in the message."""
    from jsonschema import Draft202012Validator
    from jsonschema import FormatChecker

    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(doc))
    assert errors == [], [e.message for e in errors]


@pytest.fixture(scope="session", autouse=True)
def rule_cache(tmp_path_factory):
    """Tests keep the rule data cache (audit/datacache.py) in a folder of their own, never the user's."""
    before = os.environ.get("STICKYGUARD_CACHE_DIR")
    os.environ["STICKYGUARD_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("STICKYGUARD_CACHE_DIR", None)
    else:
        os.environ["STICKYGUARD_CACHE_DIR"] = before


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/data/golden")


@pytest.fixture
def golden(request):
    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{name} changed: rerun with --update-golden and review the diff"

    return check


@pytest.fixture(scope="session")
def catalog():
    return catalog_mod.load([rule_data.RULES_DIR])


@pytest.fixture(scope="session")
def ruleset(catalog):
    return rule_data.load_rules([rule_data.RULES_DIR], catalog.cookie_classes())


@pytest.fixture
def run(monkeypatch, capsys):
    """Run `stickyguard ARGS` in-process from the repository root; returns (status, out, err)."""

    def go(*args: str) -> tuple[int, str, str]:
        monkeypatch.chdir(ROOT)
        monkeypatch.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)
        try:
            status = cli.main(list(args))
        except SystemExit as e:  # argparse usage errors
            status = e.code
        out, err = capsys.readouterr()
        return status, out, err

    return go


def run_process(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m stickyguard.audit ARGS` in a child process, for stdin and the real exit path."""
    env = dict(os.environ, SOURCE_DATE_EPOCH=FIXED_EPOCH)
    return subprocess.run(
        [sys.executable, "-m", "stickyguard.audit", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


# The three input kinds every report format must render, each a small capture in tests/data.
SCENARIOS = {
    "har": ["tests/data/captures/chrome-shop.har"],
    "flows": ["tests/data/captures/app.mitm"],
    "headers": ["tests/data/captures/shop-headers.txt", "--url", "https://shop.example/"],
}


@pytest.fixture
def render(run, tmp_path):
    """The report text `stickyguard audit SCENARIO --format FMT` writes."""

    def go(scenario: str, fmt: str, *extra: str) -> str:
        out = tmp_path / f"{scenario}.{fmt}"
        status, _, err = run("audit", *SCENARIOS[scenario], "--format", fmt, "-o", str(out), *extra)
        assert status == 1, err  # every scenario has findings
        return out.read_text(encoding="utf-8")

    return go


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port (Debian's package; .ci/run installs it)."""
    import shutil
    import socket
    import time

    exe = shutil.which("redis-server")
    require("redis-server", exe, "Debian's redis-server; .ci/run installs it")
    assert exe is not None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
