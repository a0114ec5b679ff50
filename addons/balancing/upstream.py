"""The balancer's own HTTP/1.1 exchange with a backend, so a request that fails in flight can be retried.

mitmproxy cannot retry inside a flow: once its upstream connection fails, it answers the client with its
own 502 and the `error` hook cannot replace it (see the design notes). So for a request whose body has
been read, the balancer sends it itself, from mitmproxy's `request` hook, and hands mitmproxy the
response; a failure before any response byte arrived is then the balancer's to retry elsewhere.

- Connections are pooled per backend (most recently used first; idle ones closed after IDLE_FOR
  seconds or when the backend has closed them).
- A failure says whether the backend may have received the request (`sent`): a refused or timed-out
  connect did not; a reset, an empty answer, an answer that is not HTTP at all (HAProxy's
  junk-response) or a response timeout after sending may have. RFC 9110 section 9.2.2: only
  idempotent requests may be sent again when they may have been received. A response that breaks
  off after its status line (or goes silent longer than the read timeout) is not retried.
- A reused connection that fails before any response byte is the usual keep-alive race (the backend
  closed it while idle): an idempotent request is tried once more on a fresh connection to the same
  backend before anything counts as a failure.
- Response framing per RFC 9112 section 6.3; a response with both Content-Length and Transfer-Encoding
  is refused, as mitmproxy does (request smuggling).
Plain asyncio, no mitmproxy import.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import ssl
import time
from collections.abc import Callable
from typing import NamedTuple

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})  # RFC 9110 section 9.2.2
IDLE_FOR = 15.0  # seconds a pooled connection may wait; common backend keep-alive timeouts are longer
MAX_IDLE = 64  # pooled connections kept per backend
HEAD_LIMIT = 256 * 1024  # a response head longer than this is refused
READ_CHUNK = 256 * 1024
STALE = frozenset({"connection reset by peer", "empty response", "broken pipe"})  # how a closed idle one fails


class Timeouts(NamedTuple):
    connect: float  # to open a connection
    response: float  # from the request sent to the first response byte
    read: float  # the longest silence in the middle of a response


class Target(NamedTuple):
    host: str
    port: int
    tls: bool


class NoResponse(Exception):
    """No response byte arrived. `sent`: the backend may have received the request."""

    def __init__(self, why: str, sent: bool):
        super().__init__(why)
        self.why = why
        self.sent = sent


class BrokenResponse(Exception):
    """The backend began answering and then failed or answered something that is not HTTP/1."""


@dataclasses.dataclass
class Answer:
    http_version: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    trailers: list[tuple[bytes, bytes]] | None
    started: float
    ended: float
    peer: tuple[str, int]


def may_retry(method: str, failure: NoResponse) -> bool:
    return not failure.sent or method.upper() in IDEMPOTENT


@dataclasses.dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    @property
    def stale(self) -> bool:
        return self.reader.at_eof() or self.writer.is_closing() or time.monotonic() - self.idle_since > IDLE_FOR

    def close(self) -> None:
        self.writer.close()


class Upstream:
    """Pooled HTTP/1.1 exchanges with backends."""

    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self.tls_context = tls_context
        self._idle: dict[Target, list[_Connection]] = {}

    async def exchange(self, target: Target, head: bytes, body: bytes, method: str, timeouts: Timeouts) -> Answer:
        """Send one request (head and framed body) and read its whole response."""
        pooled = self._take(target)
        if pooled is not None:
            try:
                return await self._over(pooled, target, head, body, method, timeouts)
            except NoResponse as e:
                if e.why not in STALE or method.upper() not in IDEMPOTENT:
                    raise
                # the keep-alive race: the backend closed this connection while it was idle
        connection = await self._connect(target, timeouts.connect)
        return await self._over(connection, target, head, body, method, timeouts)

    def close(self) -> None:
        for connections in self._idle.values():
            for c in connections:
                c.close()
        self._idle.clear()

    def _take(self, target: Target) -> _Connection | None:
        connections = self._idle.get(target)
        while connections:
            c = connections.pop()
            if not c.stale:
                return c
            c.close()
        return None

    def _give_back(self, target: Target, connection: _Connection) -> None:
        connections = self._idle.setdefault(target, [])
        while connections and (len(connections) >= MAX_IDLE or connections[0].stale):
            connections.pop(0).close()
        connection.idle_since = time.monotonic()
        connections.append(connection)

    async def _connect(self, target: Target, timeout: float) -> _Connection:
        tls = self.tls_context if target.tls else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    target.host, target.port, ssl=tls, server_hostname=target.host if tls else None,
                    limit=HEAD_LIMIT)
        except TimeoutError:
            raise NoResponse("connect timeout", sent=False) from None
        except ssl.SSLError as e:
            raise NoResponse(f"TLS handshake failed ({e.reason or 'error'})", sent=False) from None
        except OSError as e:
            raise NoResponse(_os_error(e, "connection refused"), sent=False) from None
        return _Connection(reader, writer)

    async def _over(self, c: _Connection, target: Target, head: bytes, body: bytes, method: str,
                    timeouts: Timeouts) -> Answer:
        try:
            c.writer.write(head + body if len(body) < READ_CHUNK else head)
            if len(body) >= READ_CHUNK:
                c.writer.write(body)
            await c.writer.drain()
            started = time.time()
            try:
                async with asyncio.timeout(timeouts.response):
                    status_line = await _first_line(c.reader)
            except TimeoutError:
                raise NoResponse("response timeout", sent=True) from None
            try:
                async with asyncio.timeout(timeouts.read) as deadline:
                    read = await _read_response(c.reader, status_line, method, started,
                                                lambda: deadline.reschedule(asyncio.get_running_loop().time()
                                                                            + timeouts.read))
            except TimeoutError:
                raise BrokenResponse(f"the backend went silent for {timeouts.read:g} s in the middle of its "
                                     "response") from None
        except (NoResponse, BrokenResponse):
            c.close()
            raise
        except OSError as e:
            c.close()
            raise NoResponse(_os_error(e, "connection reset"), sent=True) from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            c.close()
            raise BrokenResponse(_broken(e)) from None
        peer = c.writer.get_extra_info("peername") or (target.host, target.port)
        read.answer.peer = (str(peer[0]), int(peer[1]))
        if read.keep_alive:
            self._give_back(target, c)
        else:
            c.close()
        return read.answer


def _os_error(e: OSError, default: str) -> str:
    """What went wrong, without the address asyncio puts in its messages (logs and metrics repeat it)."""
    return os.strerror(e.errno).lower() if e.errno else default


def _broken(e: Exception) -> str:
    if isinstance(e, asyncio.IncompleteReadError):
        return "the backend closed the connection in the middle of its response"
    if isinstance(e, asyncio.LimitOverrunError):
        return "the response head is too long"
    return f"not an HTTP/1 response: {e}"


async def _first_line(reader: asyncio.StreamReader) -> bytes:
    """The status line; an empty read (the backend closed without a byte) is NoResponse."""
    line = await reader.readline()
    if not line:
        raise NoResponse("empty response", sent=True)
    if not line.endswith(b"\n"):
        raise asyncio.IncompleteReadError(line, None)
    return line


class _Read(NamedTuple):
    answer: Answer
    keep_alive: bool


async def _read_response(reader: asyncio.StreamReader, status_line: bytes, method: str, started: float,
                         progress: Callable[[], None]) -> _Read:
    while True:
        version, status, reason = _status(status_line)
        headers = await _header_lines(reader)
        if not 100 <= status < 200:
            break
        status_line = await reader.readline()  # an interim 1xx: the final response follows
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
    fields: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        fields.setdefault(name.lower(), []).append(value)
    close = b"close" in _tokens(fields.get(b"connection", []))
    keep_alive = not close and (version == b"HTTP/1.1" or b"keep-alive" in _tokens(fields.get(b"connection", [])))
    trailers = None
    if method.upper() == "HEAD" or status in (204, 304):
        body = b""
    elif b"transfer-encoding" in fields:
        if b"content-length" in fields:
            raise ValueError("both Content-Length and Transfer-Encoding")
        codings = _tokens(fields[b"transfer-encoding"])
        if codings and codings[-1] == b"chunked":
            body, trailers = await _chunked(reader, progress)
        else:
            body, keep_alive = await _until_close(reader, progress), False
    elif b"content-length" in fields:
        lengths = {v.strip() for v in b",".join(fields[b"content-length"]).split(b",")}
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise ValueError("bad Content-Length")
        body = await _exactly(reader, int(next(iter(lengths))), progress)
    else:
        body, keep_alive = await _until_close(reader, progress), False
    answer = Answer(version, status, reason, headers, body, trailers, started, time.time(), ("", 0))
    return _Read(answer, keep_alive)


def _status(line: bytes) -> tuple[bytes, int, bytes]:
    parts = line.rstrip(b"\r\n").split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit():
        # Not HTTP at all (HAProxy's retry-on junk-response): nothing usable arrived.
        raise NoResponse("not an HTTP response", sent=True)
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else b""


async def _header_lines(reader: asyncio.StreamReader) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        line = line.rstrip(b"\r\n")
        if not line:
            return headers
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding (RFC 9112 section 5.2)
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"bad header line {line[:80]!r}")
        headers.append((name, value.strip()))


def _tokens(values: list[bytes]) -> list[bytes]:
    return [t.strip().lower() for v in values for t in v.split(b",") if t.strip()]


async def _exactly(reader: asyncio.StreamReader, size: int, progress: Callable[[], None]) -> bytes:
    if size <= READ_CHUNK:
        return await reader.readexactly(size)
    parts = []
    while size > 0:
        parts.append(await reader.readexactly(min(size, READ_CHUNK)))
        size -= len(parts[-1])
        progress()
    return b"".join(parts)


async def _until_close(reader: asyncio.StreamReader, progress: Callable[[], None]) -> bytes:
    parts = []
    while chunk := await reader.read(READ_CHUNK):
        parts.append(chunk)
        progress()
    return b"".join(parts)


async def _chunked(reader: asyncio.StreamReader, progress: Callable[[], None]) -> tuple[bytes,
                                                                                      list[tuple[bytes, bytes]] | None]:
    parts = []
    while True:
        size_line = await reader.readline()
        if not size_line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(size_line, None)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        parts.append(await _exactly(reader, size, progress))
        progress()
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("bad chunk framing")
    trailers = await _header_lines(reader)
    return b"".join(parts), trailers or None
