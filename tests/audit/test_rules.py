import shutil

import pytest

from stickyguard.audit import rules as rule_data
from tests.conftest import BAD

GOOD = rule_data.RULES_DIR / "checks" / "SG101-affinity-cookie-missing-secure.yaml"


VENDORS = frozenset({"haproxy", "f5-bigip", "ingress-nginx", "citrix-netscaler", "traefik"})


def load_one(path, classes=frozenset({"affinity", "other", "any"}) | VENDORS):
    return rule_data.load_rules([path.parent], set(classes))


def copy_good(tmp_path, transform=lambda text: text, name=GOOD.name):
    path = tmp_path / name
    path.write_text(transform(GOOD.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def problems_of(path, **kw):
    with pytest.raises(rule_data.RuleFileError) as e:
        load_one(path, **kw)
    return e.value.problems


def test_broken_rule_file_names_each_line():
    path = BAD / "rules" / "SG150-broken-rule.yaml"
    assert problems_of(path) == [
        f"{path}:5: severity: 'hgh' is not one of ['info', 'low', 'medium', 'high', 'critical']",
        f"{path}:7: cwe/0: 614 is not of type 'string'",
        f"{path}:18: match/all/1: Additional properties are not allowed ('atribute_missing' was unexpected)",
    ]


def test_missing_key_gets_a_hint(tmp_path):
    path = copy_good(tmp_path, lambda t: t.replace("basis:", "basisx:"))
    found = problems_of(path)
    assert f"{path}:2: top level: 'basis' is a required property (cite the RFC section, law or regulator text this finding touches)" in found


def test_yaml_syntax_error(tmp_path):
    path = copy_good(tmp_path, lambda t: t.replace("severity: medium", "severity: [medium"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:6: YAML syntax: ")


def test_empty_file(tmp_path):
    path = tmp_path / "SG199-x.yaml"
    path.write_text("# nothing\n")
    assert problems_of(path) == [f"{path}:1: the file is empty"]


def test_file_name_must_be_id_and_name(tmp_path):
    path = copy_good(tmp_path, name="secure.yaml")
    assert problems_of(path) == [f"{path}:1: the file name should be SG101-affinity-cookie-missing-secure.yaml (rule id and name)"]


def test_unknown_placeholder(tmp_path):
    path = copy_good(tmp_path, lambda t: t.replace("{cookie} ({vendor}", "{cookie} ({value}"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:28: message: unknown placeholder {{value}}; use one of budget, cookie, decoded,")


def test_family_range(tmp_path):
    path = copy_good(
        tmp_path,
        lambda t: t.replace("id: SG101", "id: SG501"),
        name="SG501-affinity-cookie-missing-secure.yaml",
    )
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:2: id: SG501 is in no rule family (SG1xx cookie attributes")


def test_unknown_vendor(tmp_path):
    path = copy_good(tmp_path, lambda t: t.replace("cookie: affinity", "cookie: big-ip"))
    assert problems_of(path) == [
        f"{path}:1: match/cookie: 'big-ip' is neither 'affinity', 'other', 'any' nor a vendor id of the catalog"]


def test_fix_for_an_unknown_vendor(tmp_path):
    path = copy_good(tmp_path, lambda t: t.replace("  traefik: >-", "  traefic: >-"))
    assert problems_of(path) == [f"{path}:1: fixes: 'traefic' is not a vendor id of the catalog"]


def test_vendor_fix_reaches_the_finding(ruleset, catalog):
    from stickyguard.audit.engine import Audit
    from stickyguard.audit.records import Exchange

    audit = Audit(ruleset, catalog)
    audit.add(Exchange("https://a.example/", "GET", 200, [], [("Set-Cookie", "SERVERID=s1; HttpOnly")],
                       None, None, "t", "p"))
    report = audit.report([], [], "t", {"name": "stickyguard", "version": "0"})
    sg101 = next(f for f in report.findings if f.rule == "SG101")
    assert sg101.vendor_fix.startswith("Add `secure` to the cookie line")


def test_duplicate_id_in_one_folder(tmp_path):
    copy_good(tmp_path)
    dup = tmp_path / "SG101-affinity-cookie-missing-secure-2.yaml"
    text = GOOD.read_text().replace("name: affinity-cookie-missing-secure", "name: affinity-cookie-missing-secure-2")
    dup.write_text(text)
    # Files load in name order, so the second one named is the duplicate.
    assert problems_of(dup) == [f"{tmp_path / GOOD.name}:1: id: SG101 is also used by {dup}"]


def test_later_folder_replaces_rule_by_id(tmp_path, catalog):
    copy_good(tmp_path, lambda t: t.replace("severity: medium ", "severity: high "))
    rules = rule_data.load_rules([rule_data.RULES_DIR, tmp_path], catalog.cookie_classes())
    by_id = {r.id: r for r in rules}
    assert by_id["SG101"].severity == "high"
    assert by_id["SG101"].path == str(tmp_path / GOOD.name)
    assert len(rules) == len(rule_data.load_rules([rule_data.RULES_DIR], catalog.cookie_classes()))


def test_rule_files_prefers_checks_folder(tmp_path):
    (tmp_path / "checks").mkdir()
    shutil.copy(GOOD, tmp_path / "checks" / GOOD.name)
    (tmp_path / "stray.yaml").write_text("x: 1\n")
    assert rule_data.rule_files(tmp_path) == [tmp_path / "checks" / GOOD.name]


def test_loaded_rule_shape(ruleset):
    rule = {r.id: r for r in ruleset}["SG101"]
    assert rule.conditions == (("scheme", "https"), ("attribute_missing", "secure"))
    assert rule.cookie == "affinity"
    assert "\n" not in rule.message and "  " not in rule.message
    described = rule.describe()
    assert described["peers"][0] == {"scanner": "OWASP ZAP", "id": "10011", "url": "https://www.zaproxy.org/docs/alerts/10011/"}
