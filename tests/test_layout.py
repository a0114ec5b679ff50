"""Every module in audit/ and addons/ has its own test module at tests/<same path>/test_<name>.py,
and every test module names a module that exists (mitmproxy's filename_matching.py, both ways)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("audit", "addons")
NOT_MODULES = {"__init__.py", "__main__.py"}
# Test modules that test the whole rather than one module.
WHOLE = {"tests/test_layout.py", "tests/test_packaging.py", "tests/rules/test_ruleset.py", "tests/conftest.py",
         "tests/audit/report/test_decoded_evidence.py", "tests/audit/report/test_formats.py", "tests/addons/balancing/kinds/test_registry.py", "tests/test_readme.py"}


def source_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name not in NOT_MODULES:
                yield path.relative_to(ROOT)


def test_every_module_has_a_test_module():
    missing = [
        str(p) for p in source_modules()
        if not (ROOT / "tests" / p.parent / f"test_{p.name}").is_file()
    ]
    assert missing == []


def test_every_test_module_has_a_module():
    orphans = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        rel = path.relative_to(ROOT)
        if str(rel) in WHOLE or rel.parts[1] in ("e2e", "data", "hostile", "corpus"):
            continue
        source = ROOT / Path(*rel.parts[1:-1]) / path.name.removeprefix("test_")
        if not source.is_file():
            orphans.append(str(rel))
    assert orphans == []


def test_a_broken_import_contract_fails_lint_imports(tmp_path):
    """The import contracts in pyproject.toml hold for the code, and an import that breaks one fails
    `lint-imports` (run by make check and make test): here audit imports an addon, in a copy."""
    import shutil
    import subprocess
    import sys

    tree = tmp_path / "stickyguard"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(tmp_path / "pyproject.toml"),
            "--no-cache"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    kept = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert kept.returncode == 0, kept.stdout[-3000:] + kept.stderr[-2000:]
    with open(tree / "audit" / "clock.py", "a") as f:
        f.write("\nfrom stickyguard.addons import balancer  # noqa: E402,F401\n")
    broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert "audit never imports addons BROKEN" in broken.stdout
    assert "stickyguard.audit.clock -> stickyguard.addons.balancer" in broken.stdout


def test_nothing_reads_outside_the_checkout():
    """A user's clone has nothing beside it: no code, test or script names a folder next to the checkout."""
    import re

    outside = re.compile(r"\.\./" + "shared|ROOT\\.parent\\b|parents\\[\\d\\]\\s*/\\s*['\"]shared")
    files = [ROOT / "Makefile", ROOT / "pyproject.toml", ROOT / ".ci" / "run"]
    for folder in ("addons", "audit", "bench", "tests"):
        files += (ROOT / folder).rglob("*.py")
    offenders = [str(p.relative_to(ROOT)) for p in files if outside.search(p.read_text(errors="replace"))]
    assert offenders == []


def test_ci_fails_where_a_developer_may_skip(monkeypatch):
    import pytest

    from tests.conftest import require

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium is not installed"):
        require("Chromium", None, "Debian's chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed .*CI is set"):
        require("Chromium", None, "Debian's chromium")
    require("Chromium", "/usr/bin/chromium", "Debian's chromium")  # found: nothing happens


def test_every_package_folder_ships_in_the_wheel():
    """pyproject.toml lists the packages by hand (the repository's folders map onto stickyguard.*)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"stickyguard." + ".".join(p.parent.relative_to(ROOT).parts)
               for package in PACKAGES for p in (ROOT / package).rglob("__init__.py")}
    assert folders - listed == set()
