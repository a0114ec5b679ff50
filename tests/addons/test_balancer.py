import asyncio

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons
from mitmproxy.test import tflow
from mitmproxy.test import tutils

from stickyguard.addons import balancer

SECRET = "0123456789abcdef0123456789abcdef"
BACKENDS = ["app1=http://127.0.0.1:18081", "app2=http://127.0.0.1:18082,weight=2,route=node2"]


@pytest.fixture
def lb(tmp_path):
    addon = balancer.Balancer()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, balance_backends=BACKENDS, balance_secret=SECRET, balance_health=None,
                       balance_secret_file=str(tmp_path / "secret"))
        yield addon, tctx


def flow(cookie=None):
    headers = [(b"host", b"shop.example")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return tflow.tflow(req=tutils.treq(headers=headers), resp=False)


def routed(addon, f):
    asyncio.run(addon.requestheaders(f))
    return f.metadata["stickyguard"]


def answer(addon, f):
    f.response = tutils.tresp()
    f.server_conn.address = (f.request.host, f.request.port)
    asyncio.run(addon.response(f))
    return f.response.headers.get_all("set-cookie")


def test_new_session_gets_a_sealed_cookie_and_sticks(lb):
    addon, _ = lb
    f = flow()
    meta = routed(addon, f)
    assert meta["reason"] == "new" and (f.request.host, f.request.port)[0] == "127.0.0.1"
    (set_cookie,) = answer(addon, f)
    name_value = set_cookie.split(";")[0]
    # tflow's client side is TLS: the cookie gets the __Host- prefix and Secure.
    assert name_value.startswith("__Host-sg_affinity=s1.") and "app" not in name_value
    assert set_cookie.endswith("; Path=/; HttpOnly; SameSite=Lax; Secure") and "Expires" not in set_cookie
    for _ in range(5):
        g = flow(name_value)
        assert routed(addon, g) == {"backend": meta["backend"], "affinity": "cookie", "reason": "sticky"}
        assert answer(addon, g) == []


def test_tampered_cookie_is_repinned_and_counted(lb):
    addon, _ = lb
    meta = routed(addon, flow("sg_affinity=s1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    assert meta["reason"] == "rejected:forged"
    assert addon.counts["rejected"] == 1


def test_route_affinity(lb):
    addon, tctx = lb
    tctx.configure(addon, balance_affinity="route")
    f = flow("JSESSIONID=ABCDEF0123456789.node2")
    assert routed(addon, f)["backend"] == "app2" and f.request.port == 18082


def test_drain_and_status(lb):
    addon, tctx = lb
    tctx.master.commands.call("balance.drain", "app1")
    assert {routed(addon, flow())["backend"] for _ in range(20)} == {"app2"}
    status = tctx.master.commands.call("balance.status")
    assert "app1: up, draining" in status and "Jain" in status
    tctx.master.commands.call("balance.undrain", "app1")
    with pytest.raises(exceptions.CommandError, match="no backend named 'app9'"):
        tctx.master.commands.call("balance.drain", "app9")


def test_all_down_answers_503_without_details(lb):
    addon, _ = lb
    for b in addon.pool.backends.values():
        b.up = False
    f = flow()
    asyncio.run(addon.requestheaders(f))
    assert f.response.status_code == 503
    assert b"127.0.0.1" not in f.response.content and "server" not in f.response.headers


@pytest.mark.parametrize("option,value,message", [
    ("balance_backends", ["nonsense"], "balance_backends: expected NAME=URL"),
    ("balance_affinity", "magic", "balance_affinity must be one of cookie, app-cookie, ip, route"),
    ("balance_policy", "random", "policy must be one of"),
    ("balance_health", "ping", "balance_health: health check must be tcp"),
    ("balance_idle_timeout", 0, "balance_idle_timeout must be positive"),
    ("balance_ip_prefix", 40, "balance_ip_prefix must be 0-32"),
    ("balance_secret", "short", "secret 1 is shorter than 16 bytes"),
    ("balance_store", "mongo://x", "not a session store"),
])
def test_option_errors(lb, option, value, message):
    addon, tctx = lb
    extra = {"balance_affinity": "app-cookie"} if option == "balance_store" else {}
    with pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(addon, **extra, **{option: value})


def test_secret_file_is_created_when_no_secret_is_given(tmp_path):
    addon = balancer.Balancer()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, balance_backends=BACKENDS, balance_health=None,
                       balance_secret_file=str(tmp_path / "state" / "secret"))
        assert (tmp_path / "state" / "secret").is_file()


def test_no_option_clashes_with_mitmproxy_defaults():
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    from stickyguard.addons import auditor
    from stickyguard.addons import recorder

    async def go():
        master = DumpMaster(options.Options(), with_termlog=False, with_dumper=False)
        before = set(master.options.keys())
        master.addons.add(balancer.Balancer(), recorder.Recorder(), auditor.Auditor())
        return before, set(master.options.keys())

    before, after = asyncio.run(go())
    ours = after - before
    assert ours and all(name.startswith(("balance_", "record_", "audit_")) for name in ours)
    assert not {n for n in before if n.startswith(("balance_", "record_", "audit_"))}


def test_script_loads_as_mitmdump_would():
    with taddons.context() as tctx:
        assert tctx.script("addons/balancer.py").addons[0].__class__.__name__ == "Balancer"


def test_reload_keeps_state_and_takes_a_rotated_key(lb, tmp_path):
    addon, tctx = lb
    f = flow()
    routed(addon, f)
    (old_cookie,) = answer(addon, f)
    tctx.master.commands.call("balance.drain", "app2")
    tctx.options.balance_secret = "fedcba9876543210fedcba9876543210," + SECRET  # a new key in front
    tctx.master.commands.call("balance.reload")
    assert addon.pool.backends["app2"].draining
    g = flow(old_cookie.split(";")[0])
    assert routed(addon, g)["reason"] == "sticky"       # sealed with the old key, still valid
    assert answer(addon, g) != []                        # and re-sealed with the new one


@pytest.mark.parametrize("kind", ["cookie", "app-cookie", "ip", "route"])
def test_the_balancer_passes_its_own_audit(lb, ruleset, catalog, kind):
    """Whatever the balancer itself sets over HTTPS draws no finding at low or above."""
    from stickyguard.audit.engine import Audit
    from stickyguard.audit.sources import exchange_from_flow

    addon, tctx = lb
    tctx.configure(addon, balance_affinity=kind)
    audit = Audit(ruleset, catalog)
    for _ in range(3):
        f = flow()
        f.request.scheme = "https"
        routed(addon, f)
        answer(addon, f)
        exchange = exchange_from_flow(f, "live", "p")
        exchange.url = "https://shop.example/"  # what the client asked for; the flow now names the backend
        audit.add(exchange)
    report = audit.report([], [], "t", {"name": "stickyguard", "version": "0"})
    assert [x.rule for x in report.findings if x.severity != "info"] == []


def test_a_swap_at_connect_moves_the_request_to_the_live_backend(tmp_path):
    import socket

    from mitmproxy.proxy import server_hooks

    with socket.socket() as live, socket.socket() as gone:
        live.bind(("127.0.0.1", 0))
        live.listen()
        gone.bind(("127.0.0.1", 0))
        dead_addr, live_addr = gone.getsockname(), live.getsockname()
        gone.close()  # nothing listens there any more
        addon = balancer.Balancer()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, balance_backends=[f"dead=http://127.0.0.1:{dead_addr[1]}",
                                                    f"live=http://127.0.0.1:{live_addr[1]}"],
                           balance_secret=SECRET, balance_health=None, balance_policy="round-robin",
                           balance_secret_file=str(tmp_path / "secret"))
            f = flow()
            while routed(addon, f)["backend"] != "dead":
                f = flow()
            dead, alive = addon.pool.backends["dead"], addon.pool.backends["live"]
            before = (dead.requests, alive.requests)
            f.server_conn.address = dead_addr
            data = server_hooks.ServerConnectionHookData(server=f.server_conn, client=f.client_conn)
            asyncio.run(addon.server_connect(data))
            assert tuple(data.server.address) == live_addr
            assert (dead.requests, alive.requests) == (before[0] - 1, before[1] + 1)
            assert (dead.up, dead.moves_out, alive.moves_in) == (False, 1, 1)
            assert addon.counts["failover"] == 1


def test_an_unreachable_session_table_places_sessions_anew_and_says_so_once(tmp_path, caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing will listen here: Redis is "down"
    addon = balancer.Balancer()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, balance_backends=BACKENDS, balance_secret=SECRET, balance_health=None,
                       balance_affinity="app-cookie", balance_store=f"redis://127.0.0.1:{closed}/0",
                       balance_secret_file=str(tmp_path / "secret"))
        for _ in range(3):
            f = flow("JSESSIONID=ABC123")
            assert routed(addon, f)["reason"] == "unstored"   # served, not a 502
            f.response = tutils.tresp(headers=[(b"set-cookie", b"JSESSIONID=NEW1; Path=/")])
            f.server_conn.address = (f.request.host, f.request.port)
            asyncio.run(addon.response(f))                    # learning fails quietly too
        assert (addon.counts["unstored"], addon.counts["unlearned"]) == (3, 3)
    said = [r for r in caplog.records if "session table is unavailable" in r.getMessage()]
    assert len(said) == 1 and f"redis://127.0.0.1:{closed}/0" in said[0].getMessage()


def test_health_checks_follow_a_reconfiguration_and_bring_a_revived_backend_back(tmp_path, caplog):
    """A reload, `:set` or mitmweb's options make a new pool: the running probe loop must probe it."""
    import logging
    import socket

    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # free once closed: the backend is down
    live = socket.socket()
    live.bind(("127.0.0.1", 0))
    live.listen()
    addon = balancer.Balancer()
    caplog.set_level(logging.WARNING)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, balance_backends=[f"a=http://127.0.0.1:{port}",
                                                f"b=http://127.0.0.1:{live.getsockname()[1]}"],
                       balance_secret=SECRET, balance_health="connect,interval=0.05,timeout=0.2,rise=1,fall=1",
                       balance_secret_file=str(tmp_path / "secret"))

        async def go():
            addon.running()
            await asyncio.sleep(0.3)
            assert not addon.pool.backends["a"].up
            tctx.configure(addon, balance_policy="round-robin")   # a new pool and a new Health
            revived = socket.socket()
            revived.bind(("127.0.0.1", port))
            revived.listen()
            try:
                await asyncio.sleep(0.3)
                return addon.pool.backends["a"].up
            finally:
                addon.done()
                await asyncio.wait_for(addon._health_task, 2)
                revived.close()
        assert asyncio.run(go())
    live.close()
    assert "balancer: a is down (1 failed connect probes)" in caplog.text
    assert "balancer: a is up (1 good connect probes)" in caplog.text


def test_the_request_reaches_the_backend_without_the_balancers_cookie_and_with_x_forwarded(lb):
    addon, tctx = lb
    f = flow()
    routed(addon, f)
    token = answer(addon, f)[0].split(";")[0]
    f2 = flow(cookie=f"theme=dark; {token}; cart=7")
    f2.request.headers["x-forwarded-for"] = "1.2.3.4"   # from an untrusted peer: replaced
    routed(addon, f2)
    assert f2.request.headers.get_all("cookie") == ["theme=dark; cart=7"]
    assert f2.request.headers["x-forwarded-for"] == f2.client_conn.peername[0]
    scheme = "https" if f2.client_conn.tls_established else "http"   # what the client spoke to the balancer
    assert (f2.request.headers["x-forwarded-proto"], f2.request.headers["x-forwarded-host"]) == (scheme, "shop.example")
    tctx.configure(addon, balance_strip_cookie=False, balance_forwarded=False)
    f3 = flow(cookie=token)
    routed(addon, f3)
    assert f3.request.headers["cookie"] == token and "x-forwarded-for" not in f3.request.headers


def test_a_trusted_proxys_x_forwarded_chain_is_extended_each_header_once(lb):
    addon, tctx = lb
    tctx.configure(addon, balance_trusted_proxies=["127.0.0.0/8", "::1/128"])
    f = flow()
    f.client_conn.peername = ("127.0.0.1", 40000)
    f.request.headers["X-Forwarded-For"] = "203.0.113.7"
    f.request.headers["x-forwarded-proto"] = "https"
    f.request.headers["x-forwarded-host"] = "www.shop.example"
    routed(addon, f)
    assert f.request.headers.get_all("x-forwarded-for") == ["203.0.113.7, 127.0.0.1"]
    assert f.request.headers.get_all("x-forwarded-proto") == ["https"]
    assert f.request.headers.get_all("x-forwarded-host") == ["www.shop.example"]
    tctx.configure(addon, balance_trusted_proxies=[])  # the same peer, no longer trusted: the chain is replaced
    g = flow()
    g.client_conn.peername = ("127.0.0.1", 40000)
    g.request.headers["x-forwarded-for"] = "203.0.113.7"
    routed(addon, g)
    assert g.request.headers.get_all("x-forwarded-for") == ["127.0.0.1"]


def test_the_request_cookie_read_is_the_first_of_its_name_and_the_shared_parse_is_not_changed(lb):
    addon, _ = lb
    f = flow()
    routed(addon, f)
    token = answer(addon, f)[0].split(";")[0]
    name = token.split("=", 1)[0]
    forged = f"{name}=s1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    for _ in range(2):  # the second time from the parse kept for the same header
        assert routed(addon, flow(f"{token}; {forged}"))["reason"] == "sticky"  # as request.cookies reads it
        assert routed(addon, flow(f"{forged}; {token}"))["reason"] == "rejected:forged"


def test_the_access_log_writes_one_json_line_per_request_without_the_client_address(lb, tmp_path):
    import json

    addon, tctx = lb
    path = tmp_path / "access.jsonl"
    tctx.configure(addon, balance_access_log=str(path))
    f = flow()
    routed(addon, f)
    answer(addon, f)
    assert path.read_text() == ""  # buffered: housekeeping flushes it every second, and so does done
    addon.done()
    (line,) = path.read_text().splitlines()
    entry = json.loads(line)
    assert set(entry) == {"time", "client", "method", "backend", "decision", "status", "duration_ms"}
    assert (entry["decision"], entry["status"], entry["method"]) == ("new", 200, "GET")
    assert f.client_conn.peername[0] not in line and len(entry["client"]) == 16
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert addon.snapshot()["backends"][0]["in_flight"] == 0


def test_runtime_controls_map_to_the_balancer(lb):
    addon, _ = lb
    controls = balancer._Controls(addon)
    controls.set_weight("app1", 5)
    controls.drain("app2")
    state = controls.snapshot()
    assert [(b["name"], b["weight"], b["draining"]) for b in state["backends"]] == [("app1", 5, False), ("app2", 2, True)]
    with pytest.raises(LookupError):
        controls.drain("nope")
    assert b"stickyguard_backend_weight" in controls.metrics()


def test_the_runtime_api_follows_its_option_while_running(tmp_path):
    import json
    import socket

    addon = balancer.Balancer()
    first, second = tmp_path / "a.sock", tmp_path / "b.sock"

    def status(path):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = b""
            while chunk := s.recv(65536):
                raw += chunk
        return json.loads(raw.partition(b"\r\n\r\n")[2])

    with taddons.context(addon) as tctx:
        tctx.configure(addon, balance_backends=BACKENDS, balance_secret=SECRET, balance_health=None,
                       balance_secret_file=str(tmp_path / "secret"), balance_admin=f"unix:{first}")

        async def go():
            addon.running()
            for _ in range(50):
                if first.exists():
                    break
                await asyncio.sleep(0.02)
            before = await asyncio.to_thread(status, first)
            tctx.configure(addon, balance_admin=f"unix:{second}")
            for _ in range(50):
                if second.exists():
                    break
                await asyncio.sleep(0.02)
            after = await asyncio.to_thread(status, second)
            addon.done()
            await asyncio.wait_for(addon._health_task, 2)
            return before, after
        before, after = asyncio.run(go())
    assert before["kind"] == after["kind"] == "cookie"
    assert not first.exists() and not second.exists()


def test_what_the_balancer_sends_itself_and_what_it_leaves_to_mitmproxy():
    plain = tutils.treq()
    assert balancer._relayable(plain)
    upgrade = tutils.treq(headers=[(b"host", b"x"), (b"upgrade", b"websocket"), (b"connection", b"Upgrade")])
    streamed = tutils.treq()
    streamed.stream = True
    with_trailers = tutils.treq()
    with_trailers.trailers = balancer.http.Headers(x="1")
    assert not any(balancer._relayable(r) for r in (upgrade, streamed, with_trailers))


def test_an_http2_request_goes_upstream_as_http1_with_host_and_one_cookie_line():
    request = tutils.treq(http_version=b"HTTP/2.0", headers=[(b"cookie", b"a=1"), (b"cookie", b"b=2")],
                          authority=b"shop.example", content=b"")
    head, body = balancer._wire_request(request)
    lines = head.decode().split("\r\n")
    assert lines[0] == "GET /path HTTP/1.1" and "Host: shop.example" in lines and "cookie: a=1; b=2" in lines
    assert body == b"" and request.http_version == "HTTP/2.0"  # the flow's own request is left alone


def test_a_request_body_is_framed_as_its_headers_say():
    chunked = tutils.treq(method=b"POST", headers=[(b"host", b"x"), (b"transfer-encoding", b"chunked")],
                          content=b"hello")
    assert balancer._wire_request(chunked)[1] == b"5\r\nhello\r\n0\r\n\r\n"
    unframed = tutils.treq(method=b"POST", headers=[(b"host", b"x")], content=b"hello")
    head, body = balancer._wire_request(unframed)
    assert b"content-length: 5\r\n" in head and body == b"hello"


def test_flows_answered_by_one_backend_share_its_server_record(lb):
    addon, _ = lb
    app1 = addon.pool.backends["app1"]
    first = addon._answered_by(app1, ("127.0.0.1", 18081))
    assert first is addon._answered_by(app1, ("127.0.0.1", 18081))
    assert (first.address, first.peername) == (("127.0.0.1", 18081), ("127.0.0.1", 18081))
    assert addon._answered_by(addon.pool.backends["app2"], ("127.0.0.1", 18082)) is not first


def test_a_long_cookie_header_is_read_but_its_parse_not_kept(lb):
    addon, _ = lb
    f = flow()
    routed(addon, f)
    token = answer(addon, f)[0].split(";")[0]
    balancer._cookie_pairs.cache_clear()
    padding = "; ".join(f"pad{i}={'x' * 40}" for i in range(40))
    assert routed(addon, flow(f"{padding}; {token}"))["reason"] == "sticky"
    assert balancer._cookie_pairs.cache_info().currsize == 0
    assert routed(addon, flow(token))["reason"] == "sticky"
    assert balancer._cookie_pairs.cache_info().currsize == 1
