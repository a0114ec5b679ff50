"""Property-based tests (hypothesis, bounded examples): the header parser, every decoder and the leak
search, the capture readers and every report writer take any text or bytes without raising, and
what they return keeps its promises (declared evidence keys, valid UTF-8, valid JSON)."""

import json

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from stickyguard.audit import cookies
from stickyguard.audit import decoders
from stickyguard.audit import evidence
from stickyguard.audit import leaks
from stickyguard.audit import sources
from stickyguard.audit.engine import Audit
from stickyguard.audit.records import Exchange
from stickyguard.audit.report import FORMATS

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Any text, lone surrogates and control characters included; and text shaped like cookie values.
ANY_TEXT = st.text(st.characters(codec=None), max_size=300)
VALUE_TEXT = st.text(st.sampled_from("0123456789abcdefABCDEF:.;=,/~|%@[]-_ \t\"\\x"), max_size=300)
TEXTS = ANY_TEXT | VALUE_TEXT


@BOUNDED
@given(line=TEXTS, date=TEXTS)
def test_the_header_parser_takes_any_line(line, date):
    parsed = cookies.parse_set_cookie(line)
    assert parsed is None or isinstance(parsed, tuple)
    when = cookies.parse_cookie_date(date)
    assert when is None or isinstance(when, float)


@BOUNDED
@given(name=TEXTS, value=TEXTS)
def test_every_decoder_and_the_leak_search_take_any_value(name, value):
    for decode in decoders.DECODERS.values():
        found = decode(name, value)
        assert found is None or evidence.undeclared(found) == set()
    found = leaks.find(value)
    assert found is None or evidence.undeclared(found) == set()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000) | st.builds(lambda t: t.encode("utf-8", "surrogatepass"), TEXTS)
       | st.sampled_from([b'{"log": {"entries": [', b'{"v": 1, "set_cookies": [', b"7:", b"HTTP/1.1 200 OK\n"])
       .flatmap(lambda head: st.binary(max_size=500).map(lambda tail: head + tail)))
def test_the_readers_take_any_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "input"
    path.write_bytes(data)
    try:
        capture = sources.open_capture(str(path), url="https://shop.example/")
    except sources.CaptureError as e:
        assert str(e.error)
        return
    for exchange in capture.exchanges():
        assert isinstance(exchange, Exchange)
    for error in capture.errors:
        str(error).encode("utf-8")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=TEXTS.filter(lambda t: t.strip() and "=" not in t and ";" not in t), value=TEXTS, url_path=ANY_TEXT)
def test_every_report_writer_takes_any_cookie(ruleset, catalog, name, value, url_path):
    audit = Audit(ruleset, catalog)
    audit.add(Exchange("https://shop.example/" + url_path, "GET", 200, [],
                       [("Set-Cookie", f"{name}={value}; Path=/")], None, None, "fuzz.har", "entry 0"))
    report = audit.report([{"path": "fuzz.har", "kind": "har", "sha256": None, "exchanges": 1}], [], "t",
                          {"name": "stickyguard", "version": "0", "rules": "x"})
    for fmt in FORMATS.values():
        text = fmt.render(report)
        text.encode("utf-8")  # no lone surrogate reaches any report
        if fmt.name in ("json", "sarif"):
            json.loads(text)
        if fmt.name in ("table", "markdown"):
            assert "\x1b" not in text and "\r" not in text and "\u2028" not in text
