"""Every module in audit/ and addons/ has its own test module at tests/<same path>/test_<name>.py,
and every test module names a module that exists (mitmproxy's filename_matching.py, both ways)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("audit", "addons")
NOT_MODULES = {"__init__.py", "__main__.py"}
# Test modules that test the whole rather than one module.
WHOLE = {"tests/test_layout.py", "tests/test_packaging.py", "tests/rules/test_ruleset.py", "tests/conftest.py",
         "tests/audit/report/test_decoded_evidence.py", "tests/audit/report/test_formats.py", "tests/test_readme.py"}


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
        if str(rel) in WHOLE or rel.parts[1] in ("e2e", "data"):
            continue
        source = ROOT / Path(*rel.parts[1:-1]) / path.name.removeprefix("test_")
        if not source.is_file():
            orphans.append(str(rel))
    assert orphans == []


def test_audit_never_imports_addons():
    import re

    imports = re.compile(r"^\s*(import addons|from addons\b)", re.MULTILINE)
    offenders = [str(p) for p in (ROOT / "audit").rglob("*.py") if imports.search(p.read_text())]
    assert offenders == []


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
