"""Rules are data, and only data: what a rule file may not do is refused by `rules validate`, one line
each, before it can exhaust memory or blow up a report (issue 12)."""

import shutil
import time

from tests.conftest import ROOT

RULE = ROOT / "rules" / "checks" / "SG102-affinity-cookie-missing-httponly.yaml"


def validate(run, folder):
    start = time.process_time()
    status, out, err = run("rules", "validate", str(folder))
    assert time.process_time() - start < 10 and "Traceback" not in err
    return status, err


def test_a_billion_laughs_rule_file_is_refused_at_once(run, tmp_path):
    """418 bytes of nested aliases took 1.3 GB and 7 s; one more level, minutes."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (tmp_path / "SG150-laughs.yaml").write_text("\n".join(lines) + "\n")
    status, err = validate(run, tmp_path)
    assert status == 2 and "SG150-laughs.yaml:1: YAML anchors and aliases are not allowed in rule data" in err


def test_a_format_spec_in_a_message_is_refused(run, tmp_path):
    text = RULE.read_text().replace("id: SG102", "id: SG150").replace("name: affinity-cookie-missing-httponly",
                                                                        "name: wide")
    text = text.replace("message: >-\n", "message: >-\n  {cookie:>200000000}\n", 1)
    (tmp_path / "SG150-wide.yaml").write_text(text)
    status, err = validate(run, tmp_path)
    assert status == 2 and "{cookie:>200000000}: format specs and conversions are not allowed; write {cookie}" in err


def test_an_oversized_or_deeply_nested_rule_file_is_refused(run, tmp_path):
    shutil.copy(RULE, tmp_path / RULE.name)
    (tmp_path / "SG151-big.yaml").write_text("# " + "x" * 300_000 + "\n")
    (tmp_path / "SG152-deep.yaml").write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    status, err = validate(run, tmp_path)
    assert status == 2
    assert "SG151-big.yaml:1: 300003 bytes; a rule data file may have at most 262144" in err
    assert "SG152-deep.yaml:1: YAML nested too deeply to read (more than 64 levels)" in err


def test_brackets_in_strings_and_comments_are_not_nesting(run, tmp_path):
    """Found in review: counting every `[` refused a valid rule whose examples hold many `[`."""
    text = RULE.read_text()
    text = text.replace("tests:\n", "# " + "[" * 70 + "\ntests:\n", 1)
    text = text.replace("  no_match:\n", "  no_match:\n" + "".join(
        f'    - {{set_cookie: "cart{i}=[3; Path=/", url: "https://shop.example/"}}\n' for i in range(70)), 1)
    (tmp_path / RULE.name).write_text(text)
    status, err = validate(run, tmp_path)
    assert "nested too deeply" not in err and "anchors" not in err, err
