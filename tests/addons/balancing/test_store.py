import asyncio

import pytest

from stickyguard.addons.balancing import store


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def exercise(s, clock):
    async def go():
        assert await s.get("k") is None
        await s.set("k", "app1", ttl=10)
        assert await s.get("k") == "app1"
        await s.set("k", "app2", ttl=10)
        assert await s.get("k") == "app2"
        clock.now += 11
        assert await s.get("k") is None          # expired
        await s.set("j", "app3", ttl=10)
        await s.delete("j")
        assert await s.get("j") is None
    asyncio.run(go())


def test_memory():
    clock = Clock()
    exercise(store.MemoryStore(clock), clock)


def test_sqlite_and_restart(tmp_path):
    clock = Clock()
    path = tmp_path / "state" / "sessions.db"
    s = store.SqliteStore(path, clock)
    exercise(s, clock)

    async def keep():
        await s.set("x", "app9", ttl=100)
        await s.close()
    asyncio.run(keep())
    again = store.open_store(f"sqlite:{path}", clock)   # a restarted proxy

    async def read():
        value = await again.get("x")
        await again.close()
        return value
    assert asyncio.run(read()) == "app9"


@pytest.mark.parametrize("spec,message", [
    ("redis-ish", "not a session store"), ("sqlite:", "not a session store"),
    ("sqlite:/proc/no/such/dir/x.db", "cannot open sqlite:"),
])
def test_bad_spec(spec, message):
    with pytest.raises(ValueError, match=message):
        store.open_store(spec)


def test_memory_spec():
    assert isinstance(store.open_store("memory"), store.MemoryStore)


def test_redis_spec_is_parsed_without_connecting():
    s = store.open_store("redis://127.0.0.1:1/0")
    assert isinstance(s, store.RedisStore)
    asyncio.run(s.close())


def test_redis_store_against_a_real_server(redis_url):
    s = store.open_store(redis_url)

    async def go():
        assert await s.get("k") is None
        await s.set("k", "app1", ttl=10)
        assert await s.get("k") == "app1"
        await s.set("short", "app2", ttl=0.2)
        await asyncio.sleep(0.3)
        assert await s.get("short") is None       # Redis expired it
        await s.delete("k")
        assert await s.get("k") is None
        await s.close()
    asyncio.run(go())


def test_a_broken_table_is_store_unavailable_not_a_crash(tmp_path):
    import socket

    table = store.SqliteStore(tmp_path / "t.db")
    table._reader.close()  # what a failing disk looks like to the caller: every statement errors
    table._writer.close()
    with pytest.raises(store.StoreUnavailable, match=r"^sqlite .*t\.db: "):
        asyncio.run(table.get("k"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(store.StoreUnavailable, match=rf"^redis redis://127.0.0.1:{closed}/0: "):
        asyncio.run(store.RedisStore(f"redis://127.0.0.1:{closed}/0").set("k", "v", 10))


def test_a_store_password_is_masked_wherever_it_is_said():
    assert store.masked("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert store.masked("rediss://app:s3cret@cache/1 and redis://cache/2") == "rediss://app:***@cache/1 and redis://cache/2"
    assert store.masked("sqlite:/var/lib/x.db") == "sqlite:/var/lib/x.db"
    unreachable = store.open_store("redis://:s3cret@127.0.0.1:1/0")
    with pytest.raises(store.StoreUnavailable) as e:
        asyncio.run(unreachable.get("k"))
    assert "s3cret" not in str(e.value) and "***" in str(e.value)
    with pytest.raises(ValueError) as e:
        store.open_store("redi://:s3cret@h/0")
    assert "s3cret" not in str(e.value)


def test_the_sqlite_table_and_its_new_folder_are_owner_only(tmp_path):
    path = tmp_path / "state" / "sessions.db"
    store.open_store(f"sqlite:{path}")
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)


def test_memory_purges_expired_entries_and_keeps_live_ones():
    clock = Clock()
    s = store.MemoryStore(clock)

    async def go():
        for i in range(100):
            await s.set(f"old{i}", "app1", ttl=10)
        await s.set("live", "app2", ttl=100)
        await s.set("old0", "app1", ttl=100)  # set again: moves to the live end
        clock.now += 11
        return await s.purge()
    assert asyncio.run(go()) == 99 and len(s) == 2


def test_sqlite_purges_expired_rows(tmp_path):
    clock = Clock()
    s = store.SqliteStore(tmp_path / "t.db", clock)

    async def go():
        await s.set("a", "app1", ttl=10)
        await s.set("b", "app1", ttl=100)
        clock.now += 11
        removed = await s.purge()
        value = await s.get("b")
        await s.close()
        return removed, value
    assert asyncio.run(go()) == (1, "app1")


def test_a_slow_table_is_bounded_and_then_left_alone_for_a_moment():
    import time

    class Slow(store._Bounded):
        timeout = 0.05
        calls = 0

        async def get(self):
            async def call():
                Slow.calls += 1
                await asyncio.sleep(1)
            return await self._bounded("slow table", call)

    slow = Slow()

    async def go():
        errors = []
        for _ in range(5):
            try:
                await slow.get()
            except store.StoreUnavailable as e:
                errors.append(str(e))
        return errors
    started = time.monotonic()
    errors = asyncio.run(go())
    assert time.monotonic() - started < 0.5  # one timeout, then answers at once
    assert Slow.calls == 1 and errors[0] == "slow table: no answer within 50 ms"
    assert all("not asked again for 1 s" in e for e in errors[1:])
    slow._down_until = time.monotonic()  # the cool-down is over: asked again
    asyncio.run(go())
    assert Slow.calls == 2


def test_sqlite_writes_are_batched_and_read_back_before_they_are_written(tmp_path):
    path = tmp_path / "t.db"
    s = store.SqliteStore(path)

    async def go():
        await s.set("a", "app1", ttl=100)
        await s.set("a", "app2", ttl=100)  # touched again before the batch is written
        seen_before = await s.get("a"), _rows(path)
        await asyncio.sleep(store.SqliteStore.FLUSH_EVERY * 4)
        return seen_before, _rows(path)
    (value, rows_before), rows_after = asyncio.run(go())
    assert value == "app2" and rows_before == [] and rows_after == [("a", "app2")]
    s.flush()


def _rows(path):
    import sqlite3

    with sqlite3.connect(path) as db:
        return db.execute("SELECT key, value FROM sessions").fetchall()


def test_redis_reads_are_kept_a_moment_and_touches_are_debounced(redis_url, monkeypatch):
    import redis

    s = store.open_store(redis_url)
    direct = redis.Redis.from_url(redis_url)
    sent = []

    async def go():
        await s.set("t", "app1", ttl=100)
        direct.delete("t")  # another proxy's doing
        kept = await s.get("t")  # within RECENT: what this proxy knew
        real = s._redis.set

        async def counting(*args, **kwargs):
            sent.append(args)
            return await real(*args, **kwargs)
        monkeypatch.setattr(s._redis, "set", counting)
        await s.set("t", "app1", ttl=100)  # a touch right after a write: not sent
        await s.set("t", "app2", ttl=100)  # a change: sent
        monkeypatch.setattr(s, "RECENT", 0.0)
        direct.delete("t")
        gone = await s.get("t")  # past RECENT: Redis is asked
        await s.close()
        return kept, gone
    assert asyncio.run(go()) == ("app1", None) and len(sent) == 1


def test_the_memory_table_is_capped_and_keeps_hash_keys_compact():
    clock = Clock()
    s = store.MemoryStore(clock, limit=3)
    keys = [f"app:{i:032x}" for i in range(4)]

    async def go():
        for k in keys:
            await s.set(k, "app1", ttl=10)
        await s.set("plain key", "app2", ttl=10)  # any other key is kept as it is
        return [await s.get(k) for k in keys] + [await s.get("plain key")]
    # Past the cap the least recently set go first.
    assert asyncio.run(go()) == [None, None, "app1", "app1", "app2"] and len(s) == 3
    assert store._compact(keys[1]) != store._compact(f"web:{1:032x}")  # the prefix is part of the key
