"""The audit on real values nobody here wrote: tests/data/corpus/, scored by tests/corpus/scoring.py."""

from tests.corpus import scoring


def test_the_corpus_is_real_sourced_and_large_enough():
    balancers, others = scoring.load("balancer-cookies.yaml"), scoring.load("other-cookies.yaml")
    assert len(balancers) >= 150 and len(others) >= 50
    for entry in balancers + others:
        assert entry["source"] and entry["evidence"] and entry["kind"] in ("real", "doc", "tool"), entry
    assert len({(e["name"], e["value"]) for e in balancers}) == len(balancers)
    assert all(e["vendor"] == "none" for e in others)


def test_vendors_are_named_and_values_decoded_right(catalog):
    total = scoring.totals(scoring.score(catalog))
    misses = [m for row in scoring.score(catalog).values() for m in row.misses]
    assert total.named / total.values >= 0.98, misses
    assert total.decoded / total.decodable >= 0.98, misses


def test_no_false_leak_and_no_ordinary_cookie_called_a_balancers(catalog):
    rows = scoring.score(catalog)
    other = rows["(not a balancer's)"]
    assert (other.named, other.false_leaks) == (other.values, 0), other.misses
    assert scoring.totals(rows).false_leaks == 0, [m for r in rows.values() for m in r.misses if "false leak" in m]


def test_a_false_leak_is_counted():
    assert scoring.false_leaks({}, {"ip": "10.0.0.1", "address_class": "private"}) == ["ip=10.0.0.1"]
    assert scoring.false_leaks({"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}) == []


def test_the_readme_table_is_the_current_score(request, catalog):
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    m = re.search(r"(<!-- corpus-score: begin[^\n]*-->\n)(.*?)(<!-- corpus-score: end -->)", text, re.S)
    assert m, "README.md lost its corpus-score markers"
    generated = scoring.markdown(scoring.score(catalog))
    if request.config.getoption("--update-golden"):
        readme.write_text(text[: m.start(2)] + generated + text[m.end(2):], encoding="utf-8")
        return
    assert m.group(2) == generated, "the README's corpus table is stale: make test PYTEST_ARGS=--update-golden"
