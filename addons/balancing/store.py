"""Session tables for what is not in the balancer's own cookie: learned application cookies.

`memory` (default, one process), `sqlite:PATH` (survives a restart of the proxy), `redis://...`
(shared by several proxy processes). Every method is a coroutine so a hook never blocks the event
loop: SQLite work runs in a worker thread, Redis uses its asyncio client. Keys are
what the caller chose (the affinity code stores keyed hashes, never raw session ids). Entries
expire at an absolute time; reads of an expired entry find nothing. Plain logic, no mitmproxy.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

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
    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._data: dict[str, tuple[str, float]] = {}

    async def get(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._data[key]
            return None
        return entry[0]

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._data[key] = (value, self.clock() + ttl)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def close(self) -> None:
        self._data.clear()


class SqliteStore:
    """One table, written from a worker thread; a restarted proxy finds its sessions again."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        private_folder(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # the table is owner-only from the start
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, value TEXT, expires REAL)")

    def _run(self, sql: str, args: tuple) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise StoreUnavailable(f"sqlite {self.path}: {e}") from e

    async def get(self, key: str) -> str | None:
        rows = await asyncio.to_thread(self._run, "SELECT value FROM sessions WHERE key = ? AND expires > ?",
                                       (key, self.clock()))
        return rows[0][0] if rows else None

    async def set(self, key: str, value: str, ttl: float) -> None:
        await asyncio.to_thread(self._run, "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                                (key, value, self.clock() + ttl))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM sessions WHERE key = ?", (key,))

    async def close(self) -> None:
        await asyncio.to_thread(self._run, "DELETE FROM sessions WHERE expires <= ?", (self.clock(),))
        self._db.close()


class RedisStore:
    """A table several proxy processes share, so a fleet of balancers routes every session the
    same way. redis.asyncio keeps the event loop free; Redis expires the entries itself."""

    def __init__(self, url: str):
        import redis.asyncio
        import redis.exceptions

        self.url = url
        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._failures = (redis.exceptions.RedisError, OSError)

    async def get(self, key: str) -> str | None:
        value = await self._call(self._redis.get(key))
        return value.decode() if value is not None else None

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._call(self._redis.set(key, value, px=max(int(ttl * 1000), 1)))

    async def delete(self, key: str) -> None:
        await self._call(self._redis.delete(key))

    async def _call(self, pending):
        try:
            return await pending
        except self._failures as e:
            raise StoreUnavailable(f"redis {masked(self.url)}: {masked(str(e))}") from e

    async def close(self) -> None:
        await self._redis.aclose()


Store = MemoryStore | SqliteStore | RedisStore


def open_store(spec: str, clock: Callable[[], float] = time.time) -> Store:
    """`memory`, `sqlite:PATH` or `redis://HOST:PORT/DB`; raises ValueError naming what is wrong."""
    if spec == "memory":
        return MemoryStore(clock)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        try:
            return RedisStore(spec)
        except ValueError as e:
            raise ValueError(f"cannot use {masked(spec)}: {masked(str(e))}") from None
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        try:
            return SqliteStore(Path(spec[len("sqlite:"):]).expanduser(), clock)
        except (OSError, sqlite3.Error) as e:
            raise ValueError(f"cannot open {spec}: {e}") from None
    raise ValueError(f"not a session store: {masked(spec)!r} (memory, sqlite:PATH or redis://HOST:PORT/DB)")
