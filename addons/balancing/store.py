"""Session tables for what is not in the balancer's own cookie: learned application cookies.

`memory` (default, one process), `sqlite:PATH` (survives a restart of the proxy), `redis://...`
(shared by several proxy processes). Every method is a coroutine so a hook never blocks the event
loop: SQLite work runs in a worker thread, Redis uses its asyncio client. Keys are
what the caller chose (the affinity code stores keyed hashes, never raw session ids). Entries
expire at an absolute time; reads of an expired entry find nothing, and `purge` (which the balancer
calls in the background) removes them, so memory stays flat once sessions expire.

A table outside the process (SQLite, Redis) answers within a short timeout or not at all: after a
failure it is not asked again for COOL_DOWN seconds, so a frozen Redis costs one timeout per
COOL_DOWN instead of one per request (the caller places the session without the table and counts
it). A Redis command that fails on a stale pooled connection (Redis restarted) is retried once on a
fresh one. Plain logic, no mitmproxy.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from typing import Any
from typing import NamedTuple
from typing import NoReturn

COOL_DOWN = 1.0  # seconds a table that failed is not asked
DEFAULT_TIMEOUT = 0.25  # seconds a call may take
PURGE_BATCH = 10_000  # expired entries a memory purge removes at once (the event loop stays responsive)

_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@")


def masked(text: str) -> str:
    """The text with the password of any URL in it (`redis://:PASS@host`) shown as `***`."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def private_folder(path: Path) -> None:
    """Create `path` (and its parents) for the balancer's own state: a new folder is owner-only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


class StoreUnavailable(Exception):
    """The table cannot be read or written now (Redis down, disk error); the caller carries on without it."""


class MemoryStore:
    """The table in the proxy's memory, about 120 bytes a session (1e6 sessions: 117 MB, bench/table_memory.py).

    A key of the shape the affinity kinds write (`prefix:` and 32 hex digits, a keyed hash) is kept as one
    int, and a value with its expiry as one int (the value's number in a small table of the values seen,
    which are backend names, and the expiry in milliseconds), in a plain dict ordered by when each entry
    was last set. Past `limit` entries the least recently set goes (a size cap, besides the expiry).
    """

    purge_every = 1.0  # seconds
    VALUE_BITS = 16  # at most 65,536 distinct values (backend names)

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = 2_000_000):
        self.clock = clock
        self.limit = limit
        self._data: dict[int | str, int] = {}  # least recently set first
        self._values: list[str] = []
        self._value_ids: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> str | None:
        k = _compact(key)
        packed = self._data.get(k)
        if packed is None:
            return None
        if (packed >> self.VALUE_BITS) <= self.clock() * 1000:
            del self._data[k]
            return None
        return self._values[packed & ((1 << self.VALUE_BITS) - 1)]

    async def set(self, key: str, value: str, ttl: float) -> None:
        vid = self._value_ids.get(value)
        if vid is None:
            if len(self._values) >= 1 << self.VALUE_BITS:
                raise StoreUnavailable("the memory table holds too many distinct values")
            vid = self._value_ids[value] = len(self._values)
            self._values.append(value)
        k = _compact(key)
        self._data.pop(k, None)  # to the recent end
        self._data[k] = int((self.clock() + ttl) * 1000) << self.VALUE_BITS | vid
        if len(self._data) > self.limit:
            del self._data[next(iter(self._data))]

    async def delete(self, key: str) -> None:
        self._data.pop(_compact(key), None)

    async def purge(self) -> int:
        """Remove expired entries from the least recently set end, up to PURGE_BATCH. Entries set with a
        shorter lifetime than those before them wait their turn, at most the longest lifetime."""
        now = self.clock() * 1000
        expired: list[int | str] = []
        for k, packed in self._data.items():
            if (packed >> self.VALUE_BITS) > now or len(expired) >= PURGE_BATCH:
                break
            expired.append(k)
        for k in expired:
            del self._data[k]
        return len(expired)

    async def close(self) -> None:
        self._data.clear()


_HASH_KEY = re.compile(r"([a-z]{1,8}):([0-9a-f]{32})")


def _compact(key: str) -> int | str:
    """`app:<32 hex>` as one int (prefix letters above the 128 hash bits); any other key as it is."""
    m = _HASH_KEY.fullmatch(key)
    if m is None:
        return key
    return int.from_bytes(m.group(1).encode(), "big") << 128 | int(m.group(2), 16)


class _Bounded:
    """Calls to a table outside the process: each bounded by `timeout`; after a failure, none for COOL_DOWN."""

    timeout = DEFAULT_TIMEOUT
    _down_until = 0.0
    _down_why = ""

    def _check(self) -> None:
        if time.monotonic() < self._down_until:
            raise StoreUnavailable(f"{self._down_why} (not asked again for {COOL_DOWN:g} s)")

    async def _bounded(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        self._check()
        try:
            async with asyncio.timeout(self.timeout):
                return await call()
        except TimeoutError:
            self._trip(f"{what}: no answer within {self.timeout * 1000:.0f} ms")
        except StoreUnavailable as e:
            self._trip(str(e))

    def _trip(self, why: str) -> NoReturn:
        self._down_until, self._down_why = time.monotonic() + COOL_DOWN, why
        raise StoreUnavailable(why)


class SqliteStore(_Bounded):
    """One table on disk, so a restarted proxy finds its sessions again.

    Reads run on the event loop: a primary-key lookup in SQLite's page cache takes microseconds, less
    than handing it to a thread. Writes (a session learned, or "touched" on every request) are
    collected and written every FLUSH_EVERY seconds in one transaction by a worker thread, so a touch
    costs a dict update, not a commit; reads see the writes not yet written. WAL with synchronous=NORMAL:
    a crash of the proxy loses nothing written, a power cut at most the last moments; `flush` (at
    shutdown and reload) writes what is pending.
    """

    purge_every = 30.0  # seconds
    FLUSH_EVERY = 0.05  # seconds

    def __init__(self, path: Path, clock: Callable[[], float] = time.time, timeout: float = DEFAULT_TIMEOUT):
        self.path = Path(path)
        self.clock = clock
        self.timeout = timeout
        private_folder(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # the table is owner-only from the start
        self._writer = self._connect()  # the worker thread's (and flush's), one at a time
        self._reader = self._connect()  # the event loop's
        self._write_lock = threading.Lock()
        self._pending: dict[str, tuple[str | None, float]] = {}  # key -> (value, or None to delete; expires)
        self._flushing: dict[str, tuple[str | None, float]] = {}  # being written now
        self._flush_task: asyncio.Task | None = None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, value TEXT, expires REAL)")
        return db

    async def get(self, key: str) -> str | None:
        self._check()
        now = self.clock()
        entry = self._pending.get(key) or self._flushing.get(key)
        if entry is not None:
            return entry[0] if entry[0] is not None and entry[1] > now else None
        try:
            row = self._reader.execute("SELECT value FROM sessions WHERE key = ? AND expires > ?",
                                       (key, now)).fetchone()
        except sqlite3.Error as e:
            self._trip(f"sqlite {self.path}: {e}")
        return row[0] if row else None

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._write(key, value, self.clock() + ttl)

    async def delete(self, key: str) -> None:
        self._write(key, None, 0.0)

    def _write(self, key: str, value: str | None, expires: float) -> None:
        self._check()
        self._pending[key] = (value, expires)
        if self._flush_task is None:
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(self.FLUSH_EVERY)
                self._flushing, self._pending = self._pending, {}
                batch = self._flushing
                try:
                    await self._bounded(f"sqlite {self.path}",
                                        lambda b=batch: asyncio.to_thread(self._write_batch, b))  # type: ignore[misc]
                except StoreUnavailable:
                    pass  # the table is marked down (get says so); these writes are lost, as a failed write was
                finally:
                    self._flushing = {}
        finally:
            self._flush_task = None

    def _write_batch(self, batch: dict[str, tuple[str | None, float]]) -> None:
        with self._write_lock:
            try:
                self._writer.execute("BEGIN")
                self._writer.executemany("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                                         [(k, v, e) for k, (v, e) in batch.items() if v is not None])
                self._writer.executemany("DELETE FROM sessions WHERE key = ?",
                                         [(k,) for k, (v, _) in batch.items() if v is None])
                self._writer.execute("COMMIT")
            except sqlite3.Error as e:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                raise StoreUnavailable(f"sqlite {self.path}: {e}") from e

    def flush(self) -> None:
        """Write what is pending now, in the calling thread (at shutdown, before a reload)."""
        batch = {**self._flushing, **self._pending}
        self._pending = {}
        if batch:
            self._write_batch(batch)

    async def purge(self) -> int:
        batch, self._pending = self._pending, {}  # written first, so what just expired is in the table
        return await asyncio.to_thread(self._purge, batch, self.clock())

    def _purge(self, batch: dict[str, tuple[str | None, float]], now: float) -> int:
        if batch:
            self._write_batch(batch)
        with self._write_lock:
            try:
                return self._writer.execute("DELETE FROM sessions WHERE expires <= ?", (now,)).rowcount
            except sqlite3.Error as e:
                raise StoreUnavailable(f"sqlite {self.path}: {e}") from e

    async def close(self) -> None:
        if self._flush_task is not None:
            self._flush_task.cancel()
        self.flush()
        self._purge({}, self.clock())
        self._reader.close()
        self._writer.close()


class _Recent(NamedTuple):
    value: str
    read: float  # monotonic time it was last read from (or written to) Redis
    written: float  # last written by this proxy
    expires: float  # when Redis drops it, as far as this proxy knows


class RedisStore(_Bounded):
    """A table several proxy processes share, so a fleet of balancers routes every session the
    same way. redis.asyncio keeps the event loop free; Redis expires the entries itself.

    A proxy keeps what it read or wrote for RECENT seconds (at most RECENT_ENTRIES keys), so a busy
    session costs Redis one read a second rather than one per request, and a touch that only restarts
    the idle clock is sent at most once per tenth of the lifetime. Another proxy's change (a session
    moved off a backend that went down) reaches this one within RECENT seconds; in that window this
    proxy routes by what it read, and finds the backend down itself.
    """

    purge_every = None  # Redis expires entries itself
    RECENT = 1.0  # seconds
    RECENT_ENTRIES = 100_000

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT):
        import redis.asyncio
        import redis.backoff
        import redis.exceptions
        from redis.asyncio.retry import Retry

        self.url = url
        self.timeout = timeout
        # One retry, at once, on a fresh connection when a pooled one turns out dead (Redis restarted);
        # a timeout is not retried (the table is slow, not gone: the caller goes on without it).
        retry = Retry(redis.backoff.NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=max(timeout, 0.1),
                                                   socket_connect_timeout=max(timeout, 0.1), retry=retry)
        self._failures = (redis.exceptions.RedisError, OSError)
        self._recent: OrderedDict[str, _Recent] = OrderedDict()

    async def get(self, key: str) -> str | None:
        now = time.monotonic()
        seen = self._recent.get(key)
        if seen is not None and now - seen.read < self.RECENT and now < seen.expires:
            return seen.value
        raw = await self._call(lambda: self._redis.get(key))
        value = raw.decode() if raw is not None else None
        if seen is not None and seen.value == value:
            self._remember(key, seen._replace(read=now))
        else:
            self._remember(key, _Recent(value, now, float("-inf"), float("inf")) if value is not None else None)
        return value

    async def set(self, key: str, value: str, ttl: float) -> None:
        now = time.monotonic()
        seen = self._recent.get(key)
        if seen is not None and seen.value == value and now - seen.written < ttl / 10:
            return  # a touch, and this proxy restarted the idle clock a moment ago
        await self._call(lambda: self._redis.set(key, value, px=max(int(ttl * 1000), 1)))
        self._remember(key, _Recent(value, now, now, now + ttl))

    async def delete(self, key: str) -> None:
        self._recent.pop(key, None)
        await self._call(lambda: self._redis.delete(key))

    def _remember(self, key: str, recent: _Recent | None) -> None:
        if recent is None:
            self._recent.pop(key, None)
            return
        self._recent[key] = recent
        self._recent.move_to_end(key)
        if len(self._recent) > self.RECENT_ENTRIES:
            self._recent.popitem(last=False)

    async def _call(self, command: Callable[[], Awaitable[Any]]) -> Any:
        return await self._bounded(f"redis {masked(self.url)}", lambda: self._checked(command))

    async def _checked(self, command: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await command()
        except self._failures as e:
            raise StoreUnavailable(f"redis {masked(self.url)}: {masked(str(e))}") from e

    async def purge(self) -> int:
        return 0

    async def close(self) -> None:
        await self._redis.aclose()


Store = MemoryStore | SqliteStore | RedisStore


def open_store(spec: str, clock: Callable[[], float] = time.time, timeout: float = DEFAULT_TIMEOUT) -> Store:
    """`memory`, `sqlite:PATH` or `redis://HOST:PORT/DB`; raises ValueError naming what is wrong."""
    if spec == "memory":
        return MemoryStore(clock)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            return RedisStore(spec, timeout)
        except ValueError as e:
            raise ValueError(f"cannot use {masked(spec)}: {masked(str(e))}") from None
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        try:
            return SqliteStore(Path(spec[len("sqlite:"):]).expanduser(), clock, timeout)
        except (OSError, sqlite3.Error) as e:
            raise ValueError(f"cannot open {spec}: {e}") from None
    raise ValueError(f"not a session store: {masked(spec)!r} (memory, sqlite:PATH or redis://HOST:PORT/DB)")
