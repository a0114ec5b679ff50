"""
Record affinity traffic passively: one JSON line per exchange that carries cookies or affinity
signals, keeping only what a cookie audit needs.

Usage:

    mitmdump -s addons/recorder.py --set record_file=site.jsonl
    stickyguard audit site.jsonl

Works in any proxy mode (regular, reverse, upstream, transparent). By default no raw cookie value
and no client address is written: values become a keyed hash (what a decoder can read is kept
as decoded evidence) and the client's /24 or /48 is keyed-hashed. A response's facts are taken as it
passes (immutable values), and its line is judged, written and flushed on the event loop with the others
of the last WRITE_DELAY seconds: a killed proxy loses at most that much of the recording, and a batch
costs a third of lines made one by one between requests (a thread cost more CPU than the work itself,
and a write per line was a sixth of the recorder's cost). The file rotates by size.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from pathlib import Path
from typing import IO
from typing import Optional
from typing import TextIO

from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import flowfilter
from mitmproxy import http

try:  # `mitmdump -s` runs this file in mitmproxy's own Python: stickyguard must be installed there
    import stickyguard.addons  # noqa: F401
except ModuleNotFoundError:  # one line, not a traceback; mitmproxy then goes on without this addon
    logging.error("stickyguard is not installed in the Python that runs mitmproxy: `pipx inject mitmproxy "
                  "stickyguard`, or `pip install stickyguard` in mitmproxy's environment")
    raise SystemExit(1) from None

from stickyguard.addons import heap
from stickyguard.audit import api

KEY_ENV = "STICKYGUARD_RECORD_KEY"
WRITE_DELAY = 0.2  # seconds a response may wait before its line is written and flushed
MAX_PENDING = 1000  # responses waiting at most; then they are written at once


def _line_encoder():
    """Compact, sorted, ASCII JSON. json's C encoder is made once here: `JSONEncoder.encode` builds a new one
    on every call, a quarter of the encoding's cost; where json has no C speedups, its own encoder."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode

    def refuse(value: object) -> None:
        raise TypeError(f"{type(value).__name__} is not JSON")

    encoder = make(None, refuse, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True)
    return lambda line: "".join(encoder(line, 0))


_ENCODE = _line_encoder()


class Recorder:
    def __init__(self) -> None:
        self.stream: IO[str] | None = None
        self.path: Path | None = None
        self.filter: flowfilter.TFilter | None = None
        self.key: bytes = b""
        self.catalog: api.Catalog | None = None
        self.lines = 0
        # The options each response reads, copied at configure: mitmproxy's option access deep-copies the
        # value each time, which was a tenth of the recorder's cost per response.
        self.raw_values = self.keep_query = False
        self.max_bytes = 0
        self._size = 0  # bytes in the current file, counted as written (tell() on every line costs more)
        self._pending: list[tuple] = []  # (flow facts, client address, TLS, server port) not yet written
        self._write_pending_at: asyncio.TimerHandle | None = None
        self._write_loop: asyncio.AbstractEventLoop | None = None

    def load(self, loader) -> None:
        loader.add_option("record_file", Optional[str], None, "Write the recording (JSON Lines) to this file.")
        loader.add_option(
            "record_filter", Optional[str], None,
            "Record only flows that match this mitmproxy filter expression.",
        )
        loader.add_option(
            "record_values", str, "hashed",
            "How cookie values are kept: 'hashed' (a keyed hash; decoded evidence is kept) or 'raw'.",
            choices=["hashed", "raw"],
        )
        loader.add_option(
            "record_query", str, "drop", "Keep URL query values ('keep') or only their names ('drop').",
            choices=["drop", "keep"],
        )
        loader.add_option(
            "record_key", Optional[str], None,
            f"Secret for the keyed hashes; else ${KEY_ENV}; else a random key for this run, so "
            "recordings of different runs cannot be linked.",
        )
        loader.add_option(
            "record_max_bytes", int, 100 * 1024 * 1024,
            "Start a new file when the recording reaches this size; the old one is kept as FILE.1, FILE.2, ... "
            "0 never rotates.",
        )

    def configure(self, updated) -> None:
        if "record_filter" in updated:
            spec = ctx.options.record_filter
            try:
                self.filter = flowfilter.parse(spec) if spec else None
            except ValueError as e:
                raise exceptions.OptionsError(f"Cannot parse record_filter {spec!r}: {e}") from e
        if "record_values" in updated and ctx.options.record_values not in ("hashed", "raw"):
            raise exceptions.OptionsError(
                f"record_values must be 'hashed' or 'raw', not {ctx.options.record_values!r}")
        if "record_query" in updated and ctx.options.record_query not in ("drop", "keep"):
            raise exceptions.OptionsError(f"record_query must be 'drop' or 'keep', not {ctx.options.record_query!r}")
        if "record_max_bytes" in updated and ctx.options.record_max_bytes < 0:
            raise exceptions.OptionsError("record_max_bytes must be 0 (never rotate) or more")
        if "record_key" in updated or not self.key:
            secret = ctx.options.record_key or os.environ.get(KEY_ENV)
            self.key = secret.encode() if secret else secrets.token_bytes(32)
        if self.catalog is None:
            self.catalog = api.load_catalog()
        self.raw_values = ctx.options.record_values == "raw"
        self.keep_query = ctx.options.record_query == "keep"
        self.max_bytes = ctx.options.record_max_bytes
        if "record_file" in updated:
            self._close()
            if ctx.options.record_file:
                self.path = Path(ctx.options.record_file).expanduser()
                try:
                    self.stream, self._size = _open_private(self.path)
                except OSError as e:
                    raise exceptions.OptionsError(f"Cannot open record_file {self.path}: {e.strerror or e}") from e

    def response(self, flow: http.HTTPFlow) -> None:  # not a coroutine: mitmproxy calls it without a task
        if self.stream is None or flow.response is None:
            return
        if self.filter and not flowfilter.match(self.filter, flow):
            return
        try:
            facts = api.flow_facts(flow)
        except Exception as e:  # one odd flow must never stop the proxy or the recording
            logging.warning(f"recorder: skipped {flow.request.pretty_url}: {e}")
            return
        server = flow.server_conn.peername or flow.server_conn.address
        client = flow.client_conn.peername
        self._pending.append((facts, client[0] if client else None, flow.client_conn.tls_established,
                              server[1] if server else None))
        if len(self._pending) >= MAX_PENDING:
            self._write_pending()
        else:
            self._write_soon()

    def _write_pending(self) -> None:
        """Turn the responses taken since the last write into lines, write and flush them. In a batch, a line
        costs a third of what it costs between requests, where the proxy's own work has the CPU's caches."""
        assert self.catalog is not None  # loaded at configure
        pending, self._pending = self._pending, []
        for facts, client_ip, tls, server_port in pending:
            try:
                exchange = api.exchange_from_facts(facts, "live", "")
                line = api.record_line(exchange, self.catalog, self.key, raw_values=self.raw_values,
                                       keep_query=self.keep_query, client_ip=str(client_ip) if client_ip else None,
                                       tls=tls, server_port=int(server_port) if server_port else None)
            except Exception as e:  # one odd exchange must never stop the recording
                logging.warning(f"recorder: skipped {facts.url}: {e}")
                continue
            if line is not None and not self._write(line):
                return
        self._flush()

    def _write(self, line: dict) -> bool:
        """False when the recording cannot be written (the proxy is then stopped)."""
        if self.stream is None or self.path is None:
            return False
        try:
            text = _ENCODE(line) + "\n"  # ASCII (ensure_ascii): its length is its bytes
            self.stream.write(text)
            self.lines += 1
            self._size += len(text)
            if self.max_bytes and self._size >= self.max_bytes:
                self._rotate()
        except OSError as e:
            self._cannot_write(e)
            return False
        return True

    def _cannot_write(self, e: OSError) -> None:
        # Like mitmproxy's save addon: better to stop loudly than to let traffic pass unrecorded.
        logging.error(f"recorder: cannot write {self.path}: {e.strerror or e}")
        ctx.master.shutdown()

    def _write_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a script driving the addon): write through
            self._write_pending()
            return
        if self._write_pending_at is None or self._write_loop is not loop:  # a closed loop never calls back
            self._write_loop = loop
            self._write_pending_at = loop.call_later(WRITE_DELAY, self._written_later)

    def _written_later(self) -> None:
        self._write_pending_at = None
        self._write_pending()

    def _flush(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except OSError as e:
            self._cannot_write(e)

    def _rotate(self) -> None:
        assert self.path is not None
        self._close()
        n = 1
        while self.path.with_name(f"{self.path.name}.{n}").exists():
            n += 1
        self.path.rename(self.path.with_name(f"{self.path.name}.{n}"))
        self.stream, self._size = _open_private(self.path)

    def _close(self) -> None:
        if self._write_pending_at is not None:
            self._write_pending_at.cancel()
            self._write_pending_at = None
        if self._pending and self.stream is not None:
            self._write_pending()
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def running(self) -> None:
        heap.freeze_startup_heap()

    def done(self) -> None:
        self._close()


def _open_private(path: Path) -> tuple[TextIO, int]:
    """Append to the recording (and its size now); a new one is created readable by its owner only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8"), os.fstat(fd).st_size


addons = [Recorder()]
