import json

import pytest
from mitmproxy import io as mitm_io
from mitmproxy.addons import savehar
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from stickyguard.audit import sources
from tests.conftest import BAD
from tests.conftest import CAPTURES


def read(path, **kw):
    capture = sources.open_capture(str(path), **kw)
    exchanges = list(capture.exchanges())
    return capture, exchanges


def shown(path):
    """How errors name an input: relative to where the audit ran (tests run from the repository)."""
    return sources.display_name(str(path))


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


class TestDetection:
    @pytest.mark.parametrize(
        "name,kind",
        [("chrome-shop.har", "har"), ("firefox-bank.har", "har"), ("app.mitm", "flows"),
         ("shop-headers.txt", "headers")],
    )
    def test_kind_from_content(self, tmp_path, name, kind):
        # Renamed to a misleading extension: the content decides.
        p = write(tmp_path, "capture.bin", (CAPTURES / name).read_bytes())
        assert sources.open_capture(str(p)).kind == kind

    def test_missing_file(self, tmp_path):
        with pytest.raises(sources.CaptureError) as e:
            sources.open_capture(str(tmp_path / "nope.har"))
        assert str(e.value).endswith("nope.har: No such file or directory")

    def test_empty_file(self, tmp_path):
        with pytest.raises(sources.CaptureError, match="empty.txt: the input is empty"):
            sources.open_capture(str(write(tmp_path, "empty.txt", "\n\n")))

    def test_binary_file(self):
        with pytest.raises(sources.CaptureError) as e:
            sources.open_capture(str(BAD / "not-a-capture.png"))
        assert str(e.value) == (
            f"{shown(BAD / 'not-a-capture.png')}: byte 0: not a capture: expected a HAR file, "
            "a mitmproxy flow file or Set-Cookie header text"
        )

    def test_bom_before_har(self, tmp_path):
        p = write(tmp_path, "bom.har", b"\xef\xbb\xbf" + (CAPTURES / "chrome-shop.har").read_bytes())
        capture, exchanges = read(p)
        assert capture.kind == "har" and len(exchanges) == 4 and not capture.errors


class TestHar:
    def test_chrome_export(self):
        capture, exchanges = read(CAPTURES / "chrome-shop.har")
        assert not capture.errors
        assert [e.status for e in exchanges] == [200, 200, 200, 200]
        first = exchanges[0]
        assert first.url == "https://shop.example/"
        assert first.place == "entry 0"
        assert first.server_ip == "203.0.113.10"
        assert len(first.set_cookie_lines()) == 2
        # pages[].title is the top-level URL; the widget is embedded in it.
        assert exchanges[1].top_level_url == "https://shop.example/"
        assert capture.describe()["exchanges"] == 4
        assert len(capture.sha256) == 64

    def test_firefox_export(self):
        capture, exchanges = read(CAPTURES / "firefox-bank.har")
        assert not capture.errors
        # Firefox folds several Set-Cookie headers into one value with newlines.
        assert len(exchanges[0].set_cookie_lines()) == 2
        # The page title is not a URL: the page's first entry gives the top level.
        assert exchanges[1].top_level_url == "https://portal.bank.example/login"

    def test_sanitised_export_uses_cookie_arrays(self):
        capture, exchanges = read(CAPTURES / "sanitised-shop.har")
        lines = exchanges[0].set_cookie_lines()
        assert lines == ["BIGipServer~Common~web_pool=1677787402.36895.0000; Path=/; HttpOnly"]

    def test_cookie_array_expires_and_samesite(self, tmp_path):
        entry = _entry(resp_headers=[], cookies=[{
            "name": "AWSALB", "value": "x", "path": "/", "domain": ".shop.example",
            "expires": "2025-01-08T10:00:00.000Z", "httpOnly": False, "secure": True, "sameSite": "None"}])
        _, exchanges = read(write(tmp_path, "a.har", json.dumps(_har([entry]))))
        assert exchanges[0].set_cookie_lines() == [
            "AWSALB=x; Path=/; Domain=.shop.example; Expires=Wed, 08 Jan 2025 10:00:00 GMT; Secure; SameSite=None"
        ]

    def test_mitmproxy_export(self, tmp_path):
        flow = tflow.tflow(resp=tutils.tresp(headers=[(b"set-cookie", b"SERVERID=s1; Path=/")]))
        har = savehar.SaveHar().make_har([flow])
        capture, exchanges = read(write(tmp_path, "mitm.har", json.dumps(har)))
        assert not capture.errors
        assert exchanges[0].set_cookie_lines() == ["SERVERID=s1; Path=/"]
        assert exchanges[0].url == flow.request.url

    def test_bad_entry_is_reported_and_skipped(self, tmp_path):
        har = _har([_entry(), {"request": {"method": "GET"}, "response": {"status": 200}}, _entry()])
        capture, exchanges = read(write(tmp_path, "bad.har", json.dumps(har)))
        assert len(exchanges) == 2
        assert [str(e) for e in capture.errors] == [f"{shown(tmp_path / 'bad.har')}: entry 1: the entry has no \"request.url\""]

    @pytest.mark.parametrize(
        "doc,message",
        [
            ({"entries": []}, 'top level: JSON but not a HAR file: no "log" object'),
            ({"log": {"pages": []}}, 'log: not a HAR file: "log.entries" is missing or not a list'),
        ],
    )
    def test_json_that_is_not_har(self, tmp_path, doc, message):
        capture, exchanges = read(write(tmp_path, "x.json", json.dumps(doc)))
        assert exchanges == []
        assert str(capture.errors[0]).endswith(message)

    def test_status_must_be_a_number(self, tmp_path):
        entry = _entry()
        entry["response"]["status"] = "200"
        capture, exchanges = read(write(tmp_path, "s.har", json.dumps(_har([entry]))))
        assert exchanges == []
        assert str(capture.errors[0]).endswith("entry 0: \"response.status\" is not a number: '200'")

    def test_truncated_har_keeps_entries_before_the_cut(self):
        capture, exchanges = read(BAD / "truncated.har")
        assert [e.url for e in exchanges] == ["https://shop.example/", "https://cdn.widgets.example/w.js?key=SECRET"]
        assert len(capture.errors) == 1
        error = str(capture.errors[0])
        assert error.startswith(f"{shown(BAD / 'truncated.har')}: byte ")
        assert error.endswith("(entry 2): the file ends inside this entry (cut off); the 2 entries before it were read")

    def test_malformed_json_without_entries(self, tmp_path):
        capture, exchanges = read(write(tmp_path, "m.har", '{"log": {"version": "1.2",, }'))
        assert exchanges == []
        assert str(capture.errors[0]).endswith("byte 26: malformed JSON: Expecting property name enclosed in double quotes")


class TestFlows:
    def test_reads_every_http_flow(self):
        capture, exchanges = read(CAPTURES / "app.mitm")
        assert not capture.errors
        assert len(exchanges) == 5
        assert exchanges[1].url == "http://app.example.net/login"
        assert exchanges[0].place == "flow 0 (byte 0)"
        assert exchanges[0].top_level_url == exchanges[0].url  # Sec-Fetch-Dest: document

    def test_streams_flow_by_flow(self, tmp_path):
        # The generator yields the first flow before it has read the rest of the file.
        p = tmp_path / "big.mitm"
        with open(p, "wb") as f:
            writer = mitm_io.FlowWriter(f)
            for _ in range(50):
                writer.add(tflow.tflow(resp=True))
        capture = sources.open_capture(str(p))
        stream = capture.exchanges()
        first = next(stream)
        assert first.status == 200
        assert capture._stream.tell() < p.stat().st_size / 10
        stream.close()

    def test_truncated_flow_file(self):
        capture, exchanges = read(BAD / "truncated.mitm")
        assert len(exchanges) == 2
        assert [str(e) for e in capture.errors] == [
            f"{shown(BAD / 'truncated.mitm')}: byte 3633 (flow 2): the file ends inside this flow record "
            "(cut off); the 2 flows before it were read"
        ]

    def test_skips_flows_without_response_and_non_http(self, tmp_path):
        p = tmp_path / "mixed.mitm"
        with open(p, "wb") as f:
            writer = mitm_io.FlowWriter(f)
            writer.add(tflow.tflow(resp=False))
            writer.add(tflow.ttcpflow())
            writer.add(tflow.tflow(resp=True))
        capture, exchanges = read(p)
        assert len(exchanges) == 1 and not capture.errors
        assert exchanges[0].place.startswith("flow 2 ")


class TestHeaders:
    def test_curl_dump_follows_redirects(self):
        capture, exchanges = read(CAPTURES / "shop-headers.txt", url="https://shop.example/")
        assert [(e.status, e.url) for e in exchanges] == [
            (301, "https://shop.example/"),
            (200, "https://www.shop.example/"),
        ]
        assert exchanges[1].place == "line 6"
        assert len(exchanges[1].set_cookie_lines()) == 5
        assert exchanges[0].timestamp == 1735725600.0

    def test_bare_and_prefixed_lines(self, tmp_path):
        text = "Set-Cookie: a=1; Path=/\nb=2; Secure\nset-cookie:c=3\n"
        capture, exchanges = read(write(tmp_path, "h.txt", text))
        assert capture.kind == "headers"
        assert exchanges[0].set_cookie_lines() == ["a=1; Path=/", "b=2; Secure", "c=3"]
        assert exchanges[0].url == sources.DEFAULT_URL

    def test_crlf_and_folded_lines(self, tmp_path):
        text = "HTTP/1.1 200 OK\r\nX-Long: a\r\n  continued\r\nSet-Cookie: a=1\r\n\r\n"
        _, exchanges = read(write(tmp_path, "h.txt", text))
        assert exchanges[0].set_cookie_lines() == ["a=1"]

    def test_prose_is_rejected_with_its_line(self):
        capture, exchanges = read(BAD / "notes.txt")
        assert exchanges == []
        assert [str(e) for e in capture.errors] == [
            f"{shown(BAD / 'notes.txt')}: line 1: not a header line or a Set-Cookie value: 'Meeting notes for the load balancer migr'"
        ]

    def test_damage_after_good_lines_keeps_them(self, tmp_path):
        capture, exchanges = read(write(tmp_path, "h.txt", "Set-Cookie: a=1\nthis is not a header\n"))
        assert exchanges[0].set_cookie_lines() == ["a=1"]
        assert str(capture.errors[0]).endswith("line 2: not a header line or a Set-Cookie value: 'this is not a header'")


def test_host_of():
    assert sources.host_of("https://Shop.Example:8443/x") == "shop.example"
    assert sources.host_of("http://[::1]:80/") == "::1"


def _har(entries):
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}}


def _entry(resp_headers=(("Set-Cookie", "SERVERID=s1; Path=/"),), cookies=None):
    return {
        "startedDateTime": "2025-01-01T10:00:00.000Z",
        "time": 1,
        "request": {"method": "GET", "url": "https://shop.example/", "httpVersion": "HTTP/1.1", "headers": []},
        "response": {"status": 200, "httpVersion": "HTTP/1.1",
                     "headers": [{"name": k, "value": v} for k, v in resp_headers],
                     "cookies": cookies or [], "content": {"size": 0, "mimeType": "text/html"}},
    }


def test_malformed_entry_in_the_middle_is_not_called_a_cut(tmp_path):
    text = (CAPTURES / "chrome-shop.har").read_text()
    broken = text.replace('"https://shop.example/cart",', '"https://shop.example/cart" "oops",', 1)
    capture, exchanges = read(write(tmp_path, "m.har", broken))
    assert len(exchanges) == 2
    assert "(entry 2): malformed JSON (Expecting ',' delimiter); the 2 entries before it were read" in str(capture.errors[0])


def test_sha256_covers_the_whole_damaged_file():
    import hashlib

    for path in (BAD / "truncated.mitm", BAD / "malformed.har", BAD / "notes.txt"):
        capture, _ = read(path)
        assert capture.errors
        assert capture.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


class TestHarReadInChunks:
    """The HAR reader reads a chunk at a time: every boundary (inside a string, a multi-byte character,
    `true`, a number, between entries) must give what reading it whole gives."""

    @pytest.mark.parametrize("name", ["chrome-shop.har", "firefox-bank.har", "sanitised-shop.har"])
    @pytest.mark.parametrize("chunk", [7, 64, 1000])
    def test_any_chunk_size_reads_the_same_exchanges(self, monkeypatch, name, chunk):
        _, whole = read(CAPTURES / name)
        monkeypatch.setattr(sources, "HAR_CHUNK", chunk)
        capture, chunked = read(CAPTURES / name)
        assert chunked == whole and not capture.errors

    def test_a_cut_off_file_keeps_the_entries_before_the_cut_and_says_where(self, tmp_path, monkeypatch):
        data = (CAPTURES / "chrome-shop.har").read_bytes()
        cut = write(tmp_path, "cut.har", data[: int(len(data) * 0.7)])
        monkeypatch.setattr(sources, "HAR_CHUNK", 64)
        capture, exchanges = read(cut)
        (error,) = capture.errors
        assert exchanges and "the file ends inside this entry (cut off)" in error.message
        assert error.place.startswith("byte ") and int(error.place.split()[1]) < len(data) * 0.7

    def test_malformed_json_mid_file_is_said_with_its_place(self, tmp_path, monkeypatch):
        doc = {"log": {"version": "1.2", "entries": [{"request": {}} for _ in range(50)]}}
        text = json.dumps(doc).replace('{"request": {}}', '{"request": {]}', 1)
        monkeypatch.setattr(sources, "HAR_CHUNK", 64)
        capture, exchanges = read(write(tmp_path, "bad.har", text))
        assert exchanges == [] and "malformed JSON" in capture.errors[0].message
