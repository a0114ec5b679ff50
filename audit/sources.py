"""Read captures: HAR 1.2, mitmproxy flow files, and raw Set-Cookie header text.

The kind is detected by content, not by file name. Every reader yields `Exchange` records, one
per HTTP response, and streams where the format allows it (flow files are read flow by flow).
When a capture is damaged midway, everything read before the damage is still yielded and the
damage is recorded in `Capture.errors` as file, place (entry index, byte offset, line) and reason.
"""

from __future__ import annotations

import codecs
import dataclasses
import email.utils
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from collections.abc import Iterator
from typing import BinaryIO
from typing import NamedTuple
from typing import NoReturn
from urllib.parse import urljoin
from urllib.parse import urlsplit

from stickyguard.audit import clock
from stickyguard.audit import limits
from stickyguard.audit import wec
from stickyguard.audit.records import Exchange
from stickyguard.audit.records import InputError

DEFAULT_URL = "https://example.test/"

Progress = Callable[[int], None]


class CaptureError(Exception):
    """The input cannot be read at all (missing file, not a capture)."""

    def __init__(self, error: InputError):
        super().__init__(str(error))
        self.error = error


class _Damaged(Exception):
    """Raised inside a reader when the rest of the capture cannot be read."""

    def __init__(self, place: str, message: str):
        super().__init__(message)
        self.place = place
        self.message = message


@dataclasses.dataclass
class Capture:
    """An opened input. Iterate `exchanges()` once; then `errors` lists any damage found."""

    name: str
    kind: str
    _stream: BinaryIO
    _reader: Callable[[Capture], Iterator[Exchange]]
    url: str = DEFAULT_URL
    progress: Progress | None = None
    errors: list[InputError] = dataclasses.field(default_factory=list)
    exchanges_read: int = 0
    folder: str | None = None  # a Website Evidence Collector output folder, when that was the input
    first_time: float | None = None  # the capture period: the earliest and latest exchange with a time
    last_time: float | None = None
    _hash: hashlib._Hash = dataclasses.field(default_factory=hashlib.sha256)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def exchanges(self) -> Iterator[Exchange]:
        try:
            for exchange in self._reader(self):
                self.exchanges_read += 1
                when = exchange.timestamp
                if when is not None:
                    if self.first_time is None or when < self.first_time:
                        self.first_time = when
                    if self.last_time is None or when > self.last_time:
                        self.last_time = when
                yield exchange
        except _Damaged as e:
            self.errors.append(InputError(self.name, e.place, e.message))
            # The SHA-256 names the whole input, damaged part included.
            while self.read(1 << 20):
                pass
        finally:
            self.close()

    def close(self) -> None:
        _close(self._stream)

    def record(self, place: str, message: str) -> None:
        """Note damage that a reader could step over."""
        self.errors.append(InputError(self.name, place, message))

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._hash.update(data)
        if self.progress and data:
            self.progress(len(data))
        return data

    def describe(self) -> dict:
        return {
            "path": self.name,
            "kind": self.kind,
            "sha256": self.sha256,
            "exchanges": self.exchanges_read,
            "first_seen": _iso_or_none(self.first_time),
            "last_seen": _iso_or_none(self.last_time),
        }


def _iso_or_none(when: float | None) -> str | None:
    try:
        return clock.utc_iso(when) if when is not None else None
    except (OverflowError, OSError, ValueError):  # a capture's time past what datetime holds
        return None


def display_name(path: str) -> str:
    """How a report names an input: relative to where the audit ran, never an absolute local path (which
    says whose machine it was and where), the file's own name when no relative path reaches it."""
    if path == "-":
        return "<stdin>"
    if not os.path.isabs(path):
        return path
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return os.path.basename(path)


def open_capture(
    path: str, url: str = DEFAULT_URL, progress: Progress | None = None
) -> Capture:
    """Open `path` (or `-` for stdin) and detect its kind from the first bytes."""
    name = display_name(path)
    if path == "-":
        stream = sys.stdin.buffer
    elif os.path.isdir(path):
        return _open_wec_folder(path, name, url, progress)
    else:
        try:
            stream = open(path, "rb")
        except OSError as e:
            raise CaptureError(InputError(name, "", e.strerror or str(e))) from e
    head = _peek(stream, 64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        _close(stream)
        raise CaptureError(InputError(name, "", "the input is empty"))
    if head.startswith(b"{") and _is_recording(_peek(stream, 65536)):
        kind, reader = "recording", _read_recording
    elif head.startswith(b"{") and wec.looks_like(_peek(stream, 65536)):
        kind, reader = "wec", _read_wec
    elif head.startswith(b"{"):
        kind, reader = "har", _read_har
    elif re.match(rb"\d{1,12}:", head):
        kind, reader = "flows", _read_flows
    elif b"\x00" in _peek(stream, 4096) or not _is_text(_peek(stream, 4096)):
        _close(stream)
        raise CaptureError(
            InputError(
                name,
                "byte 0",
                "not a capture: expected a HAR file, a mitmproxy flow file or Set-Cookie header text",
            )
        )
    else:
        kind, reader = "headers", _read_headers
    return Capture(name, kind, stream, reader, url=url, progress=progress)


def _open_wec_folder(path: str, name: str, url: str, progress: Progress | None) -> Capture:
    """A folder is read as the EDPS Website Evidence Collector's output: its inspection.json, beside which
    requests.har is read too."""
    try:
        stream = open(os.path.join(path, wec.INSPECTION), "rb")
    except OSError:
        raise CaptureError(InputError(name, "", f"a folder without {wec.INSPECTION}: not a Website Evidence "
                                                "Collector output; give the capture files themselves")) from None
    return Capture(name, "wec", stream, _read_wec, url=url, progress=progress, folder=path)


def _read_wec(capture: Capture) -> Iterator[Exchange]:
    data = capture.read()
    try:
        doc = limits.loads(data)
    except ValueError as e:
        raise _Damaged(wec.INSPECTION, f"malformed JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cookies"), list):
        raise _Damaged(wec.INSPECTION, 'not a Website Evidence Collector inspection: no "cookies" list')
    folder = capture.folder if capture.folder is not None else os.path.dirname(capture.name)
    har_path = os.path.join(folder, wec.REQUESTS)
    yield from wec.exchanges(doc, capture.name, _wec_har(capture, har_path) if os.path.isfile(har_path) else None)


def _wec_har(capture: Capture, path: str) -> Iterator[Exchange]:
    """requests.har beside the inspection, its exchanges and damage told as the folder's."""
    try:
        har = open_capture(path, url=capture.url, progress=capture.progress)
    except CaptureError as e:
        capture.record(wec.REQUESTS, e.error.message)
        return
    for exchange in har.exchanges():
        exchange.source, exchange.place = capture.name, f"{wec.REQUESTS}: {exchange.place}"
        yield exchange
    for error in har.errors:
        capture.record(f"{wec.REQUESTS}: {error.place}", error.message)


def _close(stream: BinaryIO) -> None:
    if stream is not sys.stdin.buffer:
        stream.close()


def _peek(stream: BinaryIO, n: int) -> bytes:
    try:
        return stream.peek(n)[:n]  # type: ignore[attr-defined]
    except AttributeError:
        pos = stream.tell()
        data = stream.read(n)
        stream.seek(pos)
        return data


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        # A multi-byte character cut by the peek window is still text.
        return e.start >= len(data) - 3
    return True


# --- HAR -------------------------------------------------------------------------------------

_ENTRIES = re.compile(r'"entries"\s*:\s*\[')
_PAGES = re.compile(r'"pages"\s*:\s*\[')
_LOG = re.compile(r'"log"\s*:\s*\{')
_SEPARATORS = re.compile(r"[\s,]*")
HAR_CHUNK = 1 << 20  # bytes read at a time: memory stays near one chunk and the largest entry
HAR_READ_AHEAD = 1 << 16  # characters kept ahead of the next entry, read before it is tried


def _skip_separators(text: str, pos: int) -> int:
    """The position after the whitespace and commas at `pos` (the pattern matches even nothing)."""
    m = _SEPARATORS.match(text, pos)
    return m.end() if m else pos


class _Window:
    """The HAR text, read and decoded a chunk at a time: `text` grows at its end as more is needed and
    drops what has been decoded from its start. Byte places (for error messages) are counted back from
    the bytes read, only when one is asked for."""

    def __init__(self, capture: Capture):
        self.capture = capture
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self.bytes_read = 0
        self.eof = False
        self.first = True

    def more(self) -> bool:
        """Read the next chunk; False at the end of the input."""
        if self.eof:
            return False
        data = self.capture.read(HAR_CHUNK)
        self.bytes_read += len(data)
        self.eof = not data
        text = self.utf8.decode(data, final=self.eof)
        if self.first:
            text, self.first = text.lstrip("\ufeff"), False
        self.text += text
        return not self.eof

    def drop(self, pos: int) -> None:
        self.text = self.text[pos:]

    def byte_at(self, pos: int) -> int:
        """The input's byte offset of `text[pos]`: what was read, less what is still undecoded and the text
        from `pos` on (a replaced invalid byte counts as its 3-byte replacement: close enough to find it)."""
        undecoded = len(self.utf8.getstate()[0])
        return max(self.bytes_read - undecoded - len(self.text[pos:].encode()), 0)


def _read_har(capture: Capture) -> Iterator[Exchange]:
    """Decode the entries one at a time while the file is read a chunk at a time, never the whole
    document as objects nor as one string: memory stays near a chunk and the largest entry whatever the
    file's size, and a file cut off midway still yields every entry before the cut. `pages` is read when
    it comes before `entries`, as browsers, mitmproxy and the HAR 1.2 spec order them."""
    window = _Window(capture)
    decoder = json.JSONDecoder()
    pages = _har_start(window, decoder)
    index = pos = 0
    while True:
        pos = _skip_separators(window.text, pos)
        if len(window.text) - pos < HAR_READ_AHEAD and window.more():
            continue  # so most entries end inside the window: a try cut off by its end costs a scan of it
        if pos >= len(window.text):
            return  # cut off between entries: what was read is kept
        if window.text[pos] == "]":
            return
        try:
            entry, end = decoder.raw_decode(window.text, pos)
        except json.JSONDecodeError as e:
            if _ends_early(window.text, e) and window.more():
                continue  # the entry goes on in the next chunk
            raise _broken_json(window, pos, index, e) from None
        except RecursionError:
            raise _Damaged(f"byte {window.byte_at(pos)} (entry {index})",
                           f"JSON nested too deeply to read; the {index} entries before it were read") from None
        try:
            yield _har_entry(capture, entry, index, pages)
        except _Damaged as e:
            capture.record(e.place, e.message)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
            # A value of a shape no check above foresaw: one line, and the entries around it are kept.
            capture.record(f"entry {index}", f"unreadable entry: {e}")
        index, pos = index + 1, end
        if pos > HAR_CHUNK:
            window.drop(pos)
            pos = 0


def _har_start(window: _Window, decoder: json.JSONDecoder) -> dict[str, str]:
    """Read up to `"entries": [` (the window then starts just after it); the page URLs before it."""
    while not (entries_at := _ENTRIES.search(window.text)) and window.more():
        pass
    if not entries_at or not _LOG.search(window.text, 0, entries_at.start()):
        while window.more():
            pass
        _explain_not_har(window.text)
    pages: dict[str, str] = {}
    pages_at = _PAGES.search(window.text, 0, entries_at.start())
    if pages_at:
        pages = _page_urls(_decode_array(decoder, window.text, pages_at.end()))
    window.drop(entries_at.end())
    return pages


def _explain_not_har(text: str) -> NoReturn:
    """Say precisely why a JSON input is not a HAR we can read."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise _Damaged(f"byte {len(text[: e.pos].encode())}", f"malformed JSON: {e.msg}") from None
    except RecursionError:
        raise _Damaged("top level", "JSON nested too deeply to read") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("log"), dict):
        raise _Damaged("top level", 'JSON but not a HAR file: no "log" object')
    raise _Damaged("log", 'not a HAR file: "log.entries" is missing or not a list')


def _ends_early(text: str, error: json.JSONDecodeError) -> bool:
    """The JSON stopped at the end of the text read so far (more text may complete it), rather than at a
    mistake inside it."""
    # A cut inside `true`, a number or a \uXXXX escape stops a few characters before the end.
    return error.msg.startswith("Unterminated") or error.pos >= len(text.rstrip()) - 16


def _broken_json(window: _Window, pos: int, index: int, error: json.JSONDecodeError) -> _Damaged:
    cut_off = _ends_early(window.text, error)
    what = "the file ends inside this entry (cut off)" if cut_off else f"malformed JSON ({error.msg})"
    return _Damaged(
        f"byte {window.byte_at(pos)} (entry {index})",
        f"{what}; the {index} entries before it were read",
    )


def _decode_array(decoder: json.JSONDecoder, text: str, pos: int) -> list:
    """Items of the array starting at `pos`, up to its end or the first that does not parse."""
    items: list = []
    while True:
        pos = _skip_separators(text, pos)
        if pos >= len(text) or text[pos] == "]":
            return items
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            return items
        items.append(item)


def _page_urls(pages: list) -> dict[str, str]:
    """pageref -> top-level URL. Chrome and mitmproxy put the URL in the title; Firefox may not."""
    urls = {}
    for page in pages:
        if isinstance(page, dict) and isinstance(page.get("id"), str):
            title = page.get("title")
            if isinstance(title, str) and title.startswith(("http://", "https://")):
                urls[page["id"]] = title
            else:
                urls[page["id"]] = ""  # filled from the page's first entry
    return urls


def _har_entry(capture: Capture, entry: object, index: int, pages: dict[str, str]) -> Exchange:
    place = f"entry {index}"
    if not isinstance(entry, dict):
        raise _Damaged(place, "an entry is not a JSON object")
    request, response = entry.get("request"), entry.get("response")
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise _Damaged(place, 'the entry has no "request.url"')
    if not isinstance(response, dict):
        raise _Damaged(place, 'the entry has no "response" object')
    url = request["url"]
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise _Damaged(place, f'"response.status" is not a number: {status!r}')
    req_headers = _har_headers(request.get("headers"), place, "request")
    resp_headers = _har_headers(response.get("headers"), place, "response")
    if not any(k.lower() == "set-cookie" for k, _ in resp_headers):
        # Sanitised browser exports drop the header but may keep the parsed cookies.
        resp_headers += [("set-cookie", line) for line in _har_cookie_lines(response.get("cookies"))]
    top = None
    pageref = entry.get("pageref")
    if isinstance(pageref, str) and pageref in pages:
        if not pages[pageref]:
            pages[pageref] = url
        top = pages[pageref]
    return Exchange(
        url=url,
        method=str(request.get("method") or "GET"),
        status=status if status > 0 else None,
        request_headers=req_headers,
        response_headers=resp_headers,
        timestamp=clock.iso_seconds(entry.get("startedDateTime")),
        top_level_url=top or top_level_from_headers(url, req_headers),
        source=capture.name,
        place=place,
        server_ip=entry.get("serverIPAddress") or None,
    )


def _har_headers(headers: object, place: str, part: str) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise _Damaged(place, f'"{part}.headers" is not a list')
    out = []
    for h in headers:
        if isinstance(h, dict) and isinstance(h.get("name"), str):
            out.append((h["name"], str(h.get("value", ""))))
        elif isinstance(h, list | tuple) and len(h) == 2:  # Slack's [name, value] notation
            out.append((str(h[0]), str(h[1])))
        else:
            raise _Damaged(place, f'a "{part}.headers" item is not a name/value pair')
    return out


def _har_cookie_lines(cookies: object) -> list[str]:
    lines = []
    for c in cookies if isinstance(cookies, list) else []:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            continue
        parts = [f"{c['name']}={c.get('value', '')}"]
        if c.get("path"):
            parts.append(f"Path={c['path']}")
        if c.get("domain"):
            parts.append(f"Domain={c['domain']}")
        expires = clock.iso_seconds(c.get("expires"))
        if expires is not None:
            parts.append(f"Expires={clock.http_date(expires)}")
        if c.get("httpOnly"):
            parts.append("HttpOnly")
        if c.get("secure"):
            parts.append("Secure")
        if c.get("sameSite"):
            parts.append(f"SameSite={c['sameSite']}")
        lines.append("; ".join(parts))
    return lines


def top_level_from_headers(url: str, headers: list[tuple[str, str]]) -> str | None:
    """Best guess of the top-level page when a capture does not say: a document request is its
    own top level; a subresource's Referer names the page that embedded it."""
    referer = None
    for name, value in headers:
        name = name.lower()
        if name == "sec-fetch-dest" and value == "document":
            return url
        if name == "referer" and referer is None:
            referer = value
    return referer or None


# --- stickyguard recordings (JSON Lines from addons/recorder.py) -----------------------------


def _is_recording(head: bytes) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        line = limits.loads(first)
    except ValueError:
        return False
    return isinstance(line, dict) and "v" in line and "set_cookies" in line


def _read_recording(capture: Capture) -> Iterator[Exchange]:
    from stickyguard.audit import recording  # the line format module imports this one

    pending = b""
    number = 0
    while True:
        chunk = capture.read(1 << 20)
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop() if chunk else b""
        for raw in lines:
            number += 1
            if not raw.strip():
                continue
            place = f"line {number}"
            try:
                yield recording.exchange(limits.loads(raw), capture.name, place)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                if not chunk and raw is lines[-1]:
                    raise _Damaged(place, "the last line is cut off; every line before it was read") from e
                why = f"no {e.args[0]!r} field" if isinstance(e, KeyError) else str(e)
                capture.record(place, f"not a recording line: {why}")
        if not chunk:
            return


# --- mitmproxy flow files ------------------------------------------------------------------


def _read_flows(capture: Capture) -> Iterator[Exchange]:
    from mitmproxy import http
    from mitmproxy.flow import Flow
    from mitmproxy.io import compat
    from mitmproxy.io import tnetstring

    reader = _CountingReader(capture)
    index = 0
    while True:
        start = reader.offset
        try:
            state = tnetstring.load(reader)  # type: ignore[arg-type]
        except (ValueError, TypeError, IndexError) as e:
            if str(e) == "not a tnetstring: empty file" and reader.offset == start:
                return
            cut_off = not reader.read(1)
            what = "the file ends inside this flow record (cut off)" if cut_off else f"corrupt flow record ({e})"
            raise _Damaged(
                f"byte {start} (flow {index})",
                f"{what}; the {index} flows before it were read",
            ) from e
        if not isinstance(state, dict):
            raise _Damaged(f"byte {start} (flow {index})", f"not a flow record (a {type(state).__name__}); the "
                                                           f"{index} flows before it were read")
        try:
            flow = Flow.from_state(compat.migrate_flow(state))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError) as e:
            raise _Damaged(f"byte {start} (flow {index})", f"unreadable flow: {e}") from e
        index += 1
        if isinstance(flow, http.HTTPFlow) and flow.response is not None:
            yield exchange_from_flow(flow, capture.name, f"flow {index - 1} (byte {start})")


class _CountingReader:
    """What tnetstring.load needs of a file, counting bytes for error places."""

    def __init__(self, capture: Capture):
        self.capture = capture
        self.offset = 0

    def read(self, n: int = -1) -> bytes:
        data = self.capture.read(n)
        self.offset += len(data)
        return data


class FlowFacts(NamedTuple):
    """What an audit reads of a mitmproxy HTTP flow with a response, taken as immutable values (raw header
    fields, bytes), so the Exchange can be built later: the recorder builds its lines in batches."""

    url: str
    method: bytes
    status: int
    request_fields: tuple[tuple[bytes, bytes], ...]
    response_fields: tuple[tuple[bytes, bytes], ...]
    timestamp: float | None
    server_ip: str | None


def flow_facts(flow) -> FlowFacts:
    req, resp = flow.request, flow.response
    peer = flow.server_conn.peername or flow.server_conn.address
    return FlowFacts(_client_url(req), req.data.method, resp.data.status_code, req.headers.fields, resp.headers.fields,
                     resp.timestamp_start or req.timestamp_start, str(peer[0]) if peer else None)


def exchange_from_facts(facts: FlowFacts, source: str, place: str) -> Exchange:
    req_headers = _header_list(facts.request_fields)
    return Exchange(
        url=facts.url,
        method=facts.method.decode("utf-8", "surrogateescape"),
        status=facts.status,
        request_headers=req_headers,
        response_headers=_header_list(facts.response_fields),
        timestamp=facts.timestamp,
        top_level_url=top_level_from_headers(facts.url, req_headers),
        source=source,
        place=place,
        server_ip=facts.server_ip,
    )


def exchange_from_flow(flow, source: str, place: str) -> Exchange:
    """The audit's view of a mitmproxy HTTP flow with a response (from a file or live)."""
    return exchange_from_facts(flow_facts(flow), source, place)


def _header_list(fields: tuple[tuple[bytes, bytes], ...]) -> list[tuple[str, str]]:
    """mitmproxy's raw header fields as text pairs, decoded as `headers.items(multi=True)` decodes them (UTF-8,
    bytes that are not kept as surrogates), in one pass instead of a generator per header."""
    return [(k.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape")) for k, v in fields]


_PLAIN_HOST = re.compile(rb"[A-Za-z0-9.-]+(?::\d{1,5})?")


def _client_url(req) -> str:
    """The URL as the client asked for it (mitmproxy's pretty_url), without its cost in the common case:
    an HTTP/1 request with a plain Host header and an origin-form target (read from the request's raw
    fields: each of mitmproxy's properties decodes them again)."""
    data = req.data
    if data.http_version in (b"HTTP/1.1", b"HTTP/1.0") and data.path.startswith(b"/"):
        host = next((v for k, v in data.headers.fields if k.lower() == b"host"), None)
        if host and _PLAIN_HOST.fullmatch(host):
            scheme = data.scheme.decode("ascii", "replace")
            default = b":443" if scheme == "https" else b":80"
            path = data.path.decode("utf-8", "surrogateescape")
            return f"{scheme}://{host.removesuffix(default).decode('ascii')}{path}"
    return req.pretty_url


# --- raw header text ------------------------------------------------------------------------

_STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})\b")
_HEADER_LINE = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$")
_BARE_COOKIE = re.compile(r"^[^\s=;:,][^=;:]*=")


def _add_header_line(line: str, headers: list[tuple[str, str]]) -> bool:
    """Add a header line, or a bare Set-Cookie value, to `headers`; False when the line is neither."""
    m = _HEADER_LINE.match(line)
    if m:
        headers.append((m.group(1), m.group(2)))
    elif line[0] in " \t" and headers:
        pass  # obsolete line folding of the previous header; cookies never need it
    elif _BARE_COOKIE.match(line.strip()):
        headers.append(("Set-Cookie", line.strip()))
    else:
        return False
    return True


def _read_headers(capture: Capture) -> Iterator[Exchange]:
    """`curl -sI` dumps (several responses when redirects are followed), `Set-Cookie:` lines, or
    bare Set-Cookie values, one per line, judged against `capture.url`."""
    text = capture.read().decode("utf-8", errors="replace").lstrip("\ufeff")
    url = capture.url
    status: int | None = None
    headers: list[tuple[str, str]] = []
    first_line = 0

    def flush() -> Exchange | None:
        if status is None and not headers:
            return None
        date = next((v for k, v in headers if k.lower() == "date"), None)
        return Exchange(
            url=url,
            method="GET",
            status=status,
            request_headers=[],
            response_headers=list(headers),
            timestamp=_http_date(date),
            top_level_url=url,
            source=capture.name,
            place=f"line {first_line}",
        )

    for number, line in enumerate(text.splitlines(), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        m = _STATUS_LINE.match(line)
        if m:
            exchange = flush()
            if exchange:
                yield exchange
                location = exchange.response_header("location")
                if location and exchange.status and 300 <= exchange.status < 400:
                    url = urljoin(url, location.strip())
            status, headers, first_line = int(m.group(1)), [], number
            continue
        if not headers and status is None:
            first_line = number
        if not _add_header_line(line, headers):
            exchange = flush()
            if exchange:
                yield exchange
            shown = line.strip()[:40]
            raise _Damaged(
                f"line {number}",
                f"not a header line or a Set-Cookie value: {shown!r}",
            )
    exchange = flush()
    if exchange:
        yield exchange


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
