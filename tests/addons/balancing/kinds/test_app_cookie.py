import asyncio

from stickyguard.addons.balancing import store  # noqa: E402
from stickyguard.addons.balancing.affinity import SetCookie  # noqa: E402
from stickyguard.addons.balancing.kinds.app_cookie import AppCookieAffinity  # noqa: E402
from tests.addons.balancing.kinds import SECRET
from tests.addons.balancing.kinds import pool


def test_app_cookie_learns_and_forgets():
    p = pool("a", "b")
    aff = AppCookieAffinity(p, store.MemoryStore(), "JSESSIONID", SECRET)

    async def go():
        assert (await aff.route("sess-1")).label == "new"
        await aff.learn("sess-1", "b", None)
        assert (await aff.route("sess-1")).backend.name == "b"
        await aff.learn("sess-1", "b", 0)          # the app deleted its cookie
        assert (await aff.route("sess-1")).label == "new"
        await aff.learn("sess-2", "a", 3600)
        p.backends["a"].up = False
        moved = await aff.route("sess-2")
        assert moved.label == "moved" and moved.backend.name == "b"
        assert (await aff.route("sess-2")).label == "sticky"   # re-pinned where it was moved
    asyncio.run(go())
    assert "sess-1" not in repr(aff.store._data)


class _Response:
    def __init__(self, *cookies):
        self.cookies = [SetCookie(*c) for c in cookies]

    def set_cookies(self):
        return self.cookies


def test_respond_learns_the_application_cookie_from_the_backend_that_served():
    p = pool("a", "b")
    aff = AppCookieAffinity(p, store.MemoryStore(), "JSESSIONID", SECRET)

    async def go():
        decision = await aff.route(None)
        served = p.backends["b"]
        added = await aff.respond(None, _Response(("theme", "dark", None), ("JSESSIONID", "S1", None)), decision, served)
        assert added == []
        assert (await aff.route("S1")).backend is served
        await aff.respond(None, _Response(("JSESSIONID", "S1", 0)), decision, served)   # deleted
        assert (await aff.route("S1")).label == "new"
    asyncio.run(go())
