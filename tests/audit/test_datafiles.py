import dataclasses
import textwrap

import pytest

from stickyguard.audit import datafiles
from stickyguard.audit import rules as rule_data


def test_schema_is_valid_2020_12():
    assert datafiles.schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_line_of_walks_into_lists(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent("""\
        a:
          - b: 1
          - b: 2
            c: 3
        """))
    data, _ = datafiles.load_yaml(path)
    assert datafiles.line_of(data, ["a", 1, "c"]) == 4
    assert datafiles.line_of(data, ["a", 7]) == 1


def test_a_yaml_syntax_error_is_a_problem_line(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: [1, 2\n")
    data, problems = datafiles.load_yaml(path)
    assert data is None and problems[0].startswith(f"{path}:") and "YAML syntax" in problems[0]


def test_plain_turns_round_trip_containers_into_dicts_and_lists(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  - {b: 1}\n")
    data, _ = datafiles.load_yaml(path)
    assert datafiles.plain(data) == {"a": [{"b": 1}]} and type(datafiles.plain(data)) is dict


def test_quoted_scalars_do_not_trigger_the_token_scan():
    # The catalog's value regexes are full of [ { * &: inside quotes they are text, so the fast path holds.
    assert not datafiles._could_be_refused((datafiles.RULES_DIR / datafiles.CATALOG_FILE).read_text())
    assert not datafiles._could_be_refused("value: '^[0-9]{4}[a-z]*&x$'\n")


def test_brackets_after_a_quote_inside_a_plain_scalar_still_count():
    assert datafiles._could_be_refused("a: [x'b, " + "[" * 100 + " c'd]")
    assert datafiles._could_be_refused("- *alias\n")


def _rules_copy(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    for path in (datafiles.RULES_DIR / "checks").glob("SG10*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_unchanged_rule_files_come_from_the_cache_without_parsing(tmp_path, monkeypatch, catalog):
    monkeypatch.setenv("STICKYGUARD_CACHE_DIR", str(tmp_path / "cache"))
    folder = _rules_copy(tmp_path)
    first = rule_data.load_rules([folder], catalog.cookie_classes())
    assert len(list((tmp_path / "cache" / "rules").glob("*.json"))) == len(first)

    def no_parsing(path):
        raise AssertionError(f"{path} was parsed again")

    monkeypatch.setattr(datafiles, "load_yaml", no_parsing)
    again = rule_data.load_rules([folder], catalog.cookie_classes())
    assert [dataclasses.replace(r, path="") for r in again] == [dataclasses.replace(r, path="") for r in first]


def test_a_changed_file_is_parsed_again_and_its_problem_is_said(tmp_path, monkeypatch, catalog):
    monkeypatch.setenv("STICKYGUARD_CACHE_DIR", str(tmp_path / "cache"))
    folder = _rules_copy(tmp_path)
    rule_data.load_rules([folder], catalog.cookie_classes())
    victim = sorted(folder.glob("*.yaml"))[0]
    victim.write_text(victim.read_text().replace("severity:", "severity: extreme\nold_severity:", 1))
    with pytest.raises(datafiles.RuleFileError) as caught:
        rule_data.load_rules([folder], catalog.cookie_classes())
    assert str(victim) in str(caught.value)
    # Invalid files are never kept: the next run says the same again.
    with pytest.raises(datafiles.RuleFileError):
        rule_data.load_rules([folder], catalog.cookie_classes())


def test_a_damaged_cache_entry_is_read_past(tmp_path, monkeypatch, catalog):
    monkeypatch.setenv("STICKYGUARD_CACHE_DIR", str(tmp_path / "cache"))
    folder = _rules_copy(tmp_path)
    first = rule_data.load_rules([folder], catalog.cookie_classes())
    for entry in (tmp_path / "cache" / "rules").glob("*.json"):
        entry.write_text('{"id": "SG1')  # cut short, as by a full disk
    assert rule_data.load_rules([folder], catalog.cookie_classes()) == first


def test_an_empty_cache_setting_turns_the_cache_off(tmp_path, monkeypatch, catalog):
    monkeypatch.setenv("STICKYGUARD_CACHE_DIR", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    rule_data.load_rules([_rules_copy(tmp_path)], catalog.cookie_classes())
    assert not (tmp_path / "xdg").exists() and not (tmp_path / ".cache").exists()


def test_an_unwritable_cache_folder_costs_only_time(tmp_path, monkeypatch, catalog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("STICKYGUARD_CACHE_DIR", str(blocker))
    assert rule_data.load_rules([_rules_copy(tmp_path)], catalog.cookie_classes())
