import textwrap

from stickyguard.audit import datafiles


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
