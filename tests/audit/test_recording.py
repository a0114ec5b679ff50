import json

import pytest

from stickyguard.audit import recording
from stickyguard.audit import sources
from stickyguard.audit.records import Exchange


def ex(set_cookies=(), url="https://shop.example/a?b=1&c=2", headers=()):
    return Exchange(url, "GET", 200, [], [("Set-Cookie", c) for c in set_cookies] + list(headers),
                    1735725600.0, url, "t", "p")


def test_nothing_to_record(catalog):
    assert recording.record(ex(), catalog, b"k") is None


def test_keyed_hash_depends_on_the_key():
    assert recording.keyed_hash(b"a", "v") != recording.keyed_hash(b"b", "v")
    assert recording.keyed_hash(b"a", "v") == recording.keyed_hash(b"a", "v")


@pytest.mark.parametrize("ip,net", [("203.0.113.77", "203.0.113.0/24"), ("2001:db8:1:2::5", "2001:db8:1::/48")])
def test_truncate_address(ip, net):
    assert recording.truncate_address(ip) == net


def test_drop_query_values():
    assert recording.drop_query_values("https://a.example/p?x=1&y=secret#f") == "https://a.example/p?x=&y="
    assert recording.drop_query_values("https://a.example/p") == "https://a.example/p"


def test_round_trip_keeps_classification(catalog):
    line = recording.record(ex(["dr_who=1677787402.36895.0000; path=/"]), catalog, b"k")
    back = recording.exchange(json.loads(json.dumps(line)), "rec.jsonl", "line 1")
    assert back.cookie_facts[0]["vendor"] == "f5-bigip"
    assert back.cookie_facts[0]["decoded"]["ip"] == "10.1.1.100"
    assert back.set_cookie_lines() == [f"dr_who={line['set_cookies'][0]['value']}; path=/"]


def test_unknown_version_is_an_error(catalog):
    line = recording.record(ex(["a=1"]), catalog, b"k")
    line["v"] = 2
    with pytest.raises(ValueError, match="unknown recording version 2"):
        recording.exchange(line, "r", "line 1")


def test_reader_keeps_lines_before_damage(tmp_path, catalog):
    good = json.dumps(recording.record(ex(["SERVERID=s1"]), catalog, b"k"))
    path = tmp_path / "r.jsonl"
    path.write_text(good + "\n" + '{"v": 1, "oops": true}\n' + good + "\n" + good[:40])
    capture = sources.open_capture(str(path))
    assert capture.kind == "recording"
    exchanges = list(capture.exchanges())
    assert len(exchanges) == 2
    assert [str(e) for e in capture.errors] == [
        f"{sources.display_name(str(path))}: line 2: not a recording line: missing time, method, url, status, set_cookies, request_cookies, "
        "backend_headers",
        f"{sources.display_name(str(path))}: line 4: the last line is cut off; every line before it was read",
    ]


@pytest.mark.parametrize("url,kept", [
    ("https://idp.example/users/alice@example.com/profile", "https://idp.example/users/~/profile"),
    ("https://idp.example/users/alice%40example.com", "https://idp.example/users/~"),
    ("https://a.example/reset?alice@example.com", "https://a.example/reset"),
    ("https://a.example/verify?eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig", "https://a.example/verify"),
    ("https://a.example/p;jsessionid=ABC/x?q=1&t=2#frag", "https://a.example/p;jsessionid=/x?q=&t="),
    ("https://user:pw@a.example/x", "https://a.example/x"),
    ("https://shop.example/cart?item=3", "https://shop.example/cart?item="),
    ("https://shop.example/", "https://shop.example/"),
])
def test_urls_keep_no_value_that_names_a_user(url, kept):
    """Found in review: a query part with no name, or an e-mail in the path, went into the recording."""
    assert recording.drop_query_values(url) == kept
