import asyncio
import json

import pytest
from jsonschema import Draft202012Validator
from jsonschema import FormatChecker
from mitmproxy import exceptions
from mitmproxy.test import taddons
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from stickyguard.addons import recorder
from stickyguard.audit import recording
from stickyguard.audit import sources

SCHEMA = Draft202012Validator(recording.load_schema(), format_checker=FormatChecker())


def flow(set_cookies=(), url_path=b"/cart?token=SECRET&x=1", request_cookie=None, extra=()):
    headers = [(b"host", b"shop.example")]
    if request_cookie:
        headers.append((b"cookie", request_cookie.encode()))
    req = tutils.treq(scheme=b"https", host="shop.example", port=443, path=url_path, headers=headers)
    resp = tutils.tresp(headers=[(b"date", b"Wed, 01 Jan 2025 10:00:00 GMT"),
                                 *[(b"set-cookie", c.encode()) for c in set_cookies], *extra])
    f = tflow.tflow(req=req, resp=resp)
    f.client_conn.peername = ("203.0.113.77", 51000)
    return f


def respond(addon, f):
    """One response through the recorder, as mitmproxy calls it: on the event loop."""
    async def go():
        addon.response(f)
    asyncio.run(go())


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.fixture
def rec(tmp_path):
    addon = recorder.Recorder()
    with taddons.context(addon) as tctx:
        yield addon, tctx, tmp_path / "rec.jsonl"


def test_records_only_what_an_audit_needs(rec):
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_key="k")
    respond(addon, flow(["BIGipServerweb=1677787402.36895.0000; path=/", "sid=s3cr3tvalue; Secure"],
                        request_cookie="sid=old-secret; theme=dark"))
    respond(addon, flow([], url_path=b"/plain"))  # nothing cookie-related: not recorded
    addon.done()
    (line,) = lines(path)
    SCHEMA.validate(line)
    text = path.read_text()
    assert "s3cr3tvalue" not in text and "old-secret" not in text and "1677787402" not in text
    assert "203.0.113" not in text and "SECRET" not in text
    assert line["url"] == "https://shop.example/cart?token=&x="
    assert line["request_cookies"] == ["sid", "theme"]
    bigip = line["set_cookies"][0]
    assert bigip["vendor"] == "f5-bigip" and bigip["decoded"]["ip"] == "10.1.1.100"
    assert bigip["value"].startswith("hmac-sha256:")
    assert line["client"].startswith("hmac-sha256:")


def test_raw_values_and_kept_query(rec):
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_values="raw", record_query="keep")
    respond(addon, flow(["sid=visible"]))
    addon.done()
    (line,) = lines(path)
    assert line["set_cookies"][0]["value"] == "visible"
    assert line["url"].endswith("?token=SECRET&x=1")


def test_backend_headers_alone_are_recorded(rec):
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path))
    respond(addon, flow([], extra=[(b"x-backend-server", b"app-3.internal"), (b"server", b"nginx/1.25")]))
    addon.done()
    (line,) = lines(path)
    assert line["backend_headers"] == {"x-backend-server": "app-3.internal", "server": "nginx/1.25"}


def test_filter(rec):
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_filter="~d other.example")
    respond(addon, flow(["sid=1"]))
    addon.done()
    assert path.read_text() == ""


def test_rotation(rec):
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_max_bytes=1)
    respond(addon, flow(["a=1"]))
    respond(addon, flow(["b=2"]))
    addon.done()
    assert (path.parent / "rec.jsonl.1").is_file() and (path.parent / "rec.jsonl.2").is_file()


@pytest.mark.parametrize("option,value,message", [
    ("record_filter", "~bogus", "Cannot parse record_filter"),
    ("record_values", "plain", "record_values must be 'hashed' or 'raw'"),
    ("record_query", "some", "record_query must be 'drop' or 'keep'"),
    ("record_max_bytes", -1, "record_max_bytes must be 0"),
])
def test_option_errors(rec, option, value, message):
    addon, tctx, _ = rec
    with pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(addon, **{option: value})


def test_unwritable_file(rec, tmp_path):
    addon, tctx, _ = rec
    with pytest.raises(exceptions.OptionsError, match="Cannot open record_file"):
        tctx.configure(addon, record_file=str(tmp_path / "no" / "dir" / "x.jsonl"))


def test_the_audit_reads_a_recording(rec):
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path))
    respond(addon, flow(["BIGipServerweb=1677787402.36895.0000; path=/",
                         "JSESSIONID=7D8A2F0B4C1E9A3D5F6B8C0E2A4D6F81.node2; Path=/; Secure; HttpOnly"]))
    addon.done()
    capture = sources.open_capture(str(path))
    assert capture.kind == "recording"
    (exchange,) = list(capture.exchanges())
    assert not capture.errors
    assert [f["vendor"] for f in exchange.cookie_facts] == ["f5-bigip", "tomcat-jvmroute"]


def test_script_loads_as_mitmdump_would(tmp_path):
    with taddons.context() as tctx:
        script = tctx.script("addons/recorder.py")
        assert script.addons[0].__class__.__name__ == "Recorder"


def test_a_deeply_nested_jwt_does_not_hide_the_cookie_beside_it(rec):
    """A 2.7 kB JWT nesting JSON past Python's recursion limit made the recorder drop the whole exchange,
    BIG-IP cookie included: a site could hide from the recorder (issue 12)."""
    from tests.audit.test_limits import deep_jwt

    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_key="k")
    respond(addon, flow([f"session={deep_jwt()}; Path=/", "BIGipServerweb=1677787402.36895.0000; path=/"]))
    addon.done()
    (line,) = lines(path)
    by_name = {c["name"]: c for c in line["set_cookies"]}
    assert by_name["BIGipServerweb"]["decoded"]["ip"] == "10.1.1.100" and by_name["session"]["decoded"] is None


def test_a_new_record_file_takes_no_line_queued_for_the_old_one(rec, tmp_path):
    """Found in review: lines still queued when record_file changed were written to the new file."""
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_key="k")
    other = tmp_path / "other.jsonl"

    async def go():
        for i in range(3):
            addon.response(flow([f"sid{i}=1"]))  # written to the old file as it comes
        tctx.configure(addon, record_file=str(other))

    asyncio.run(go())
    addon.done()
    assert len(lines(path)) == 3 and not other.read_text()


def test_lines_are_written_together_within_the_write_delay(rec):
    """Responses are taken as they pass and written (and flushed) in one batch WRITE_DELAY later."""
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_key="k")

    async def go():
        for i in range(3):
            addon.response(flow([f"sid{i}=1"]))
        assert path.read_text() == ""  # nothing yet: the batch waits
        await asyncio.sleep(recorder.WRITE_DELAY + 0.1)
        assert [line["set_cookies"][0]["name"] for line in lines(path)] == ["sid0", "sid1", "sid2"]

    asyncio.run(go())


def test_a_full_batch_is_written_at_once_and_done_writes_the_rest(rec, monkeypatch):
    addon, tctx, path = rec
    monkeypatch.setattr(recorder, "MAX_PENDING", 2)
    tctx.configure(addon, record_file=str(path), record_key="k")

    async def go():
        for i in range(3):
            addon.response(flow([f"sid{i}=1"]))
        assert len(lines(path)) == 2  # the first two, at once; the third waits

    asyncio.run(go())
    addon.done()
    assert len(lines(path)) == 3


def test_facts_are_taken_as_the_response_passes(rec):
    """A line says what the response was when the recorder saw it, even if the flow changes before the write."""
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_key="k")
    f = flow(["sid=1"])

    async def go():
        addon.response(f)
        f.response.headers.add("set-cookie", "late=1")  # after the recorder's turn

    asyncio.run(go())
    addon.done()
    (line,) = lines(path)
    assert [c["name"] for c in line["set_cookies"]] == ["sid"]


def test_a_line_waiting_when_its_event_loop_ended_goes_out_with_the_next_loop(rec):
    addon, tctx, path = rec
    tctx.configure(addon, record_file=str(path), record_key="k")
    respond(addon, flow(["first=1"]))  # its loop ends before the write was due

    async def go():
        addon.response(flow(["second=1"]))
        await asyncio.sleep(recorder.WRITE_DELAY + 0.1)

    asyncio.run(go())
    assert [line["set_cookies"][0]["name"] for line in lines(path)] == ["first", "second"]
