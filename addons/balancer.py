"""
A sticky load balancer as a mitmproxy addon, with private, tamper-proof affinity.

Usage:

    mitmdump -s addons/balancer.py --mode reverse:http://127.0.0.1:1 \\
        --set balance_backends=app1=http://127.0.0.1:8081 --set balance_backends=app2=http://127.0.0.1:8082 \\
        --set balance_affinity=cookie

Routing happens in `requestheaders` (so streamed bodies follow it). Once a request's body is read, the
balancer sends it to the backend itself (balancing/upstream.py), so a try that fails before any
response byte is retried on another backend, which mitmproxy cannot do inside a flow. Requests it
leaves to mitmproxy (streamed bodies, upgrades, `balance_retries=0`) get a last check just before
mitmproxy connects, which swaps a dead backend for a live one. Either way a session pinned to a dead
backend is moved and re-pinned instead of answered with a 502, and the affinity cookie is set from the
backend that really answered. The logic lives in affinity, backends, sealing, ring, store, health and
upstream; this module translates between flows and that logic.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import ssl
import time
from collections import Counter
from pathlib import Path
from typing import Any

import certifi
from mitmproxy import command
from mitmproxy import connection
from mitmproxy import ctx
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy import server_hooks

try:  # `mitmdump -s` runs this file in mitmproxy's own Python: stickyguard must be installed there
    import stickyguard.addons  # noqa: F401
except ModuleNotFoundError:  # one line, not a traceback; mitmproxy then goes on without this addon
    logging.error("stickyguard is not installed in the Python that runs mitmproxy: `pipx inject mitmproxy "
                  "stickyguard`, or `pip install stickyguard` in mitmproxy's environment")
    raise SystemExit(1) from None

from stickyguard.addons import heap
from stickyguard.addons.balancing import admin
from stickyguard.addons.balancing import affinity
from stickyguard.addons.balancing import backends
from stickyguard.addons.balancing import clients
from stickyguard.addons.balancing import forwarding
from stickyguard.addons.balancing import health
from stickyguard.addons.balancing import metrics
from stickyguard.addons.balancing import sealing
from stickyguard.addons.balancing import store
from stickyguard.addons.balancing import upstream
from stickyguard.addons.balancing.kinds import KINDS
from stickyguard.addons.balancing.kinds import OPTIONS
from stickyguard.addons.balancing.options import SECRET_ENV
from stickyguard.audit import api as audit_api
from stickyguard.audit import clock

# The last check before connecting: one TCP connect, bounded (mitmproxy has no connect timeout).
CONNECT_PROBE = health.CheckSpec("connect", "", interval=0, timeout=0.5, rise=1, fall=1)
SAY_EVERY = 10.0  # seconds between two log lines about the same ongoing trouble
WAITING_LIMIT = 10_000  # client connections between requests; past it the longest-waiting is closed
REQUEST_HEAD_LIMIT = 64 * 1024  # what the error responder reads of a request before it answers
_FORWARDED_FIELDS = frozenset(name.encode() for name in forwarding.FORWARDED)
COOKIE_CACHED_UP_TO = 1024  # characters of Cookie header whose parse is kept (4,096 headers at most)
SERVERS_KEPT = 1024  # who-answered records kept for reuse (backends times the addresses they answer from)


class Balancer:
    def __init__(self) -> None:
        self.pool: backends.Pool | None = None
        self.strategy: affinity.Kind | None = None
        self.health: health.Health | None = None
        self.by_addr: dict[tuple[str, int], backends.Backend] = {}
        self.counts: dict[str, int] = {}
        self._decisions: dict[str, affinity.Decision] = {}  # flow id -> decision, until the response
        self._answered: dict[str, backends.Backend | None] = {}  # flow id -> who answered a relayed request
        self._stop = asyncio.Event()
        self._health_task: asyncio.Task | None = None
        self._said: dict[str, float] = {}  # what was last logged when (`_say`)
        self.upstream: upstream.Upstream | None = None  # None: mitmproxy connects (balance_retries=0)
        self._timeouts: upstream.Timeouts | None = None  # read from the options with each configuration
        self._responder: asyncio.base_events.Server | None = None
        self._responder_address: tuple[str, int] | None = None
        self.in_flight: Counter[str] = Counter()  # backend name -> requests it is answering now
        self.transitions: dict[str, Counter[str]] = {}  # backend name -> "up"/"down" -> times
        self.rejected: Counter[str] = Counter()  # why affinity tokens were rejected
        self.retries: Counter[str] = Counter()  # why a try failed and the request went to another backend
        self.not_retried: Counter[str] = Counter()  # why a failed request got the balancer's 502/503 instead
        self._registry = metrics.registry(self.snapshot)
        self._admin: admin.AdminServer | None = None
        self._access_log: Any = None
        self._client_key = b""
        self.waiting = clients.Waiting(30, WAITING_LIMIT)  # client connections and their header deadlines
        self.closed_clients: Counter[str] = Counter()  # why client connections were closed
        # The options every request reads, copied at configure: mitmproxy deep-copies an option on each access.
        self._strip_cookie = self._forwarded = True
        self._trusted: tuple[str, ...] = ()
        self._retries = 0
        self._servers: dict[tuple, connection.Server] = {}  # _answered_by

    def load(self, loader) -> None:
        for option in OPTIONS:
            loader.add_option(option.name, option.typespec, option.default, option.full_help)

    def configure(self, updated) -> None:
        if not any(name.startswith("balance_") for name in updated):
            return
        opts = ctx.options
        values = {option.name: getattr(opts, option.name) for option in OPTIONS}
        try:
            specs = [backends.parse_backend_spec(s) for s in opts.balance_backends]
        except ValueError as e:
            raise exceptions.OptionsError(f"balance_backends: {e}") from e
        if not specs:
            self.pool = None
            return
        problems = [p for p in (o.problem(values[o.name]) for o in OPTIONS) if p]
        if problems:
            raise exceptions.OptionsError(problems[0])
        try:
            pool = backends.Pool(specs, opts.balance_policy)
        except ValueError as e:
            raise exceptions.OptionsError(f"balance_backends: {e}") from e
        try:
            check = health.parse_check_spec(opts.balance_health) if opts.balance_health else None
        except ValueError as e:
            raise exceptions.OptionsError(f"balance_health: {e}") from e
        try:
            for network in opts.balance_trusted_proxies:
                ipaddress.ip_network(network, strict=False)
            keys = self._secrets()
            strategy = KINDS[opts.balance_affinity].build(affinity.Setup(pool, values, keys))
        except ValueError as e:
            raise exceptions.OptionsError(f"balance: {e}") from e
        self._carry_state(pool)
        self._flush_table()
        self.pool, self.strategy = pool, strategy
        self.health = health.Health(list(pool.backends.values()), check) if check else None
        self.by_addr = {(b.spec.host, b.spec.port): b for b in pool.backends.values()}
        self.counts = {}
        self._client_key = keys[0]  # the secret file is read once per configuration
        self._set_upstream(pool, opts)
        self.waiting.timeout = opts.balance_client_timeout
        self._strip_cookie, self._forwarded = opts.balance_strip_cookie, opts.balance_forwarded
        self._trusted, self._retries = tuple(opts.balance_trusted_proxies), opts.balance_retries
        self._open_access_log(opts.balance_access_log)
        if "balance_admin" in updated and self._health_task is not None:
            self._restart_admin(opts.balance_admin)  # `:set balance_admin=...` while the proxy runs

    def _set_upstream(self, pool: backends.Pool, opts: Any) -> None:
        """The balancer's own upstream client (its pooled connections start afresh with each configuration)."""
        if self.upstream is not None:
            self.upstream.close()
        self.upstream = None
        self._timeouts = upstream.Timeouts(opts.balance_connect_timeout, opts.balance_response_timeout,
                                           opts.balance_read_timeout)
        if opts.balance_retries:
            tls = any(b.spec.scheme == "https" for b in pool.backends.values())
            self.upstream = upstream.Upstream(_upstream_tls() if tls else None)

    def _restart_admin(self, where: str | None) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if where:
            asyncio.get_running_loop().create_task(self._start_admin(where))

    def _open_access_log(self, path: str | None) -> None:
        if self._access_log is not None:
            self._access_log.close()
            self._access_log = None
        if path:
            try:
                file = Path(path).expanduser()
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                # Lines wait in a buffer; housekeeping flushes it every second (a write per line cost 3 %).
                self._access_log = os.fdopen(fd, "a", encoding="utf-8", buffering=1 << 16)
            except OSError as e:
                raise exceptions.OptionsError(f"balance_access_log: {e}") from e

    def _carry_state(self, pool: backends.Pool) -> None:
        """Reconfiguring keeps what the running pool learned about backends that remain."""
        if self.pool is None:
            return
        for name, backend in pool.backends.items():
            prev = self.pool.backends.get(name)
            if prev is not None:
                for field in ("up", "draining", "sessions", "requests", "moves_in", "moves_out"):
                    setattr(backend, field, getattr(prev, field))

    def _secrets(self) -> list[bytes]:
        opts = ctx.options
        text = opts.balance_secret or os.environ.get(SECRET_ENV)
        try:
            if text:
                return sealing.parse_secrets(text)
            return sealing.load_or_create_secret(Path(opts.balance_secret_file).expanduser())
        except (OSError, ValueError) as e:
            raise exceptions.OptionsError(f"balance_secret_file: {e}") from e

    def running(self) -> None:
        heap.freeze_startup_heap()
        if self._health_task is None:
            loop = asyncio.get_running_loop()
            self._health_task = loop.create_task(self._probe_loop())
            loop.create_task(self._housekeeping())
            loop.create_task(self._start_responder())
            if ctx.options.balance_admin:
                loop.create_task(self._start_admin(ctx.options.balance_admin))

    async def _start_admin(self, where: str) -> None:
        """The runtime API (balancing/admin.py); a listener that cannot start is said, not fatal."""
        try:
            address = admin.parse_address(where)
            token = None
            if address.kind == "tcp":
                token = admin.load_or_create_token(Path(ctx.options.balance_admin_token_file).expanduser())
            server = admin.AdminServer(_Controls(self), address, token, metrics.CONTENT_TYPE)
            await server.start()
        except (OSError, ValueError) as e:
            logging.error(f"balancer: the runtime API did not start: {e}")
            return
        self._admin = server
        shown = address.path if address.kind == "unix" else f"{address.host}:{server.port} (token in " \
            f"{ctx.options.balance_admin_token_file})"
        logging.info(f"balancer: runtime API, metrics and status page on {shown}")

    async def _start_responder(self) -> None:
        """A loopback listener that answers the balancer's own 503: when no backend is reachable at
        connect time, the connection goes here instead of failing in mitmproxy, whose 502 would name the
        backend's address and mitmproxy's version (and an `error` hook cannot replace it)."""
        self._responder = await asyncio.start_server(self._answer_unavailable, "127.0.0.1", 0,
                                                     limit=REQUEST_HEAD_LIMIT)
        self._responder_address = self._responder.sockets[0].getsockname()[:2]

    async def _answer_unavailable(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # answer anyway: the client is owed a response, not the details
        try:
            writer.write(forwarding.error_response(ctx.options.balance_error_body))
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _probe_loop(self) -> None:
        """Probe the backends of the current configuration: a reload, a `:set` or mitmweb's options
        build a new pool and a new Health, and the next round probes those (not the old objects)."""
        while not self._stop.is_set():
            current = self.health
            if current is not None:
                for backend in await current.check_all():
                    how = f"{current.spec.rise} good" if backend.up else f"{current.spec.fall} failed"
                    self._went(backend, f"{how} {current.spec.kind} probes")
            try:
                await asyncio.wait_for(self._stop.wait(), current.spec.interval if current else 1.0)
            except asyncio.TimeoutError:
                pass

    async def _housekeeping(self) -> None:
        """Once a second: close the client connections past their deadline for a request's headers, and
        purge expired sessions from the session table when its turn comes."""
        purged_at = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            for cid in self.waiting.overdue(now):
                self._close_client(cid, "no request within balance_client_timeout")
            if self._access_log is not None:
                try:
                    self._access_log.flush()
                except (OSError, ValueError) as e:
                    logging.error(f"balancer: access log: {e}")
            table = self._session_table()
            every = getattr(table, "purge_every", None)
            if table is not None and every is not None and now - purged_at >= every:
                purged_at = now
                try:
                    await table.purge()
                except store.StoreUnavailable as e:
                    self._table_down(e)
            try:
                await asyncio.wait_for(self._stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass

    def client_connected(self, client: connection.Client) -> None:
        for cid in self.waiting.connected(client.id, time.monotonic()):
            self._close_client(cid, "too many clients waiting")

    def client_disconnected(self, client: connection.Client) -> None:
        self.waiting.gone(client.id)

    def _close_client(self, cid: str, why: str) -> None:
        """Close a client connection the way mitmproxy closes an inactive one (its proxyserver holds them)."""
        server = ctx.master.addons.get("proxyserver")
        handler = getattr(server, "connections", {}).get(cid)
        if handler is None:
            return
        self.closed_clients[why] += 1
        self._say(f"closed {why}", f"balancer: closing client connections: {why}")
        asyncio.get_running_loop().create_task(handler.on_timeout())

    def _went(self, backend: backends.Backend, why: str) -> None:
        """A backend changed state: logged once and counted (balance.status, /metrics)."""
        state = "up" if backend.up else "down"
        self.transitions.setdefault(backend.name, Counter())[state] += 1
        logging.warning(f"balancer: {backend.name} is {state} ({why})")

    def _session_table(self) -> store.Store | None:
        """The kind's session table (app-cookie keeps one); None for kinds that need none."""
        return getattr(self.strategy, "store", None)

    def _flush_table(self) -> None:
        """Write what the session table holds back (SQLite writes in batches), before it is replaced or the
        proxy stops."""
        flush = getattr(self._session_table(), "flush", None)
        if flush is not None:
            try:
                flush()
            except store.StoreUnavailable as e:
                self._table_down(e)

    def done(self) -> None:
        self._flush_table()
        self._stop.set()
        if self._responder is not None:
            self._responder.close()
        if self._admin is not None:
            self._admin.close()
        if self._access_log is not None:
            self._access_log.close()
            self._access_log = None
        if self.upstream is not None:
            self.upstream.close()

    def _count(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.waiting.started(flow.client_conn.id)
        if self.pool is None or self.strategy is None or flow.response or flow.error:
            return
        request = _Request(flow)
        try:
            try:
                decision = await self.strategy.decide(request)
            except store.StoreUnavailable as e:
                # Without the table a session cannot be found: serve it anyway, placed anew.
                self._table_down(e)
                decision = affinity.Decision(self.pool.place(), affinity.Reason.UNSTORED, set_cookie=True)
        except LookupError:
            flow.response = _own_error(503)
            return
        backend = decision.backend
        if decision.reason.places_a_session:
            backend.sessions += 1
        if decision.reason is affinity.Reason.MOVED:
            logging.warning(f"balancer: a session's backend is down; moved to {backend.name}")
        backend.requests += 1
        self.in_flight[backend.name] += 1
        self._count(decision.reason.value)
        if decision.reason is affinity.Reason.REJECTED:
            self.rejected[decision.detail or "invalid"] += 1
        flow.request.scheme = backend.spec.scheme
        flow.request.data.host = backend.spec.host
        flow.request.data.port = backend.spec.port
        flow.metadata["stickyguard"] = {"backend": backend.name, "affinity": self.strategy.name,
                                        "reason": decision.label}
        self._decisions[flow.id] = decision
        self._rewrite_for_backend(flow, request)

    def _rewrite_for_backend(self, flow: http.HTTPFlow, request: _Request) -> None:
        """The request as the backend should see it: without the balancer's cookie, with X-Forwarded-*."""
        headers = flow.request.headers
        own = getattr(self.strategy, "own_cookie_names", ())  # only the cookie kind has a cookie of its own
        if own and self._strip_cookie and request.cookie_lines:
            lines = request.cookie_lines
            kept = forwarding.without_cookies(lines, own)
            if kept != lines:
                headers.set_all("cookie", kept)
        if self._forwarded:
            # What the client sent is believed only from a trusted proxy: with none, it is not even read.
            sent = {name: headers.get_all(name) for name in forwarding.FORWARDED} if self._trusted else {}
            values = forwarding.forwarded_headers(request.peer, request.tls, flow.request.host_header or "", sent,
                                                  self._trusted)
            # One pass over the fields instead of a scan per header set.
            headers.fields = tuple(f for f in headers.fields if f[0].lower() not in _FORWARDED_FIELDS) + tuple(
                (name.encode(), value.encode("utf-8", "surrogateescape")) for name, value in values.items())

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        """The last check before mitmproxy connects: swap a dead backend for a live one."""
        if self.pool is None or data.server.address is None:
            return
        backend = self._backend_at(data.server.address)
        if backend is None:
            return
        if await health.probe(backend, CONNECT_PROBE):
            return
        was_up = backend.up
        if self.health is not None:
            self.health.mark_failed(backend)
        else:
            backend.up = False
        if was_up:
            self._went(backend, "refused a connection")
        for _ in range(len(self.pool.backends)):
            try:
                other = self.pool.place()
            except LookupError:
                break
            if await health.probe(other, CONNECT_PROBE):
                self._fail_over(backend, other, "unreachable (the last check before connecting failed)")
                data.server.address = (other.spec.host, other.spec.port)
                return
            other.up = False
        self._unavailable(data)

    def _fail_over(self, backend: backends.Backend, other: backends.Backend, why: str) -> None:
        """The session on `backend` goes to `other`, and so does the request (counted on `backend`)."""
        assert self.pool is not None
        self.pool.move(backend, other)
        other.sessions += 1
        backend.requests = max(backend.requests - 1, 0)
        other.requests += 1
        self._count("failover")
        self._say(f"failover {backend.name}", f"balancer: {backend.name} {why}, sending to {other.name}")

    def _unavailable(self, data: server_hooks.ServerConnectionHookData) -> None:
        """No backend answers: connect to the balancer's own responder, which says 503 and nothing more."""
        self._count("unavailable")
        self._say("unavailable", "balancer: no backend is reachable; answering 503")
        if self._responder_address is not None:
            data.server.address = self._responder_address
            data.server.tls = False  # the responder speaks plain HTTP, whatever the backends speak

    async def request(self, flow: http.HTTPFlow) -> None:
        """The body is read: send the request to its backend here, retrying a try that fails in flight."""
        decision = self._decisions.get(flow.id)
        if decision is None or self.upstream is None or flow.response or flow.error or not _relayable(flow.request):
            return
        self.in_flight[decision.backend.name] -= 1  # counted again per try, on the backend tried
        try:
            await self._relay(flow, decision.backend, self.upstream)
        finally:
            self.in_flight[decision.backend.name] += 1  # response() takes it off

    async def _relay(self, flow: http.HTTPFlow, backend: backends.Backend, client: upstream.Upstream) -> None:
        assert self.pool is not None
        method, (head, body) = flow.request.method, _wire_request(flow.request)
        retries, timeouts = self._retries, self._timeouts
        assert timeouts is not None  # set with the upstream client
        tried: list[str] = []
        failures: list[str] = []
        received = False  # some backend may have received the request
        while True:
            tried.append(backend.name)
            self.in_flight[backend.name] += 1
            try:
                answer = await client.exchange(_target(backend), head, body, method, timeouts)
            except upstream.NoResponse as failure:
                failures.append(failure.why)
                received |= failure.sent
                self._backend_failed(backend, failure.why)
                if not upstream.may_retry(method, failure):
                    gave_up = f"{method} may have been received"
                elif len(tried) > retries:
                    gave_up = "retries exhausted"
                else:
                    try:
                        other = self.pool.place(exclude=tried)
                    except LookupError:
                        gave_up = "no other backend"
                    else:
                        self.retries[failure.why] += 1
                        how = "failed a request in flight" if failure.sent else "unreachable"
                        self._fail_over(backend, other, f"{how} ({failure.why})")
                        backend = other
                        continue
                self.not_retried[gave_up] += 1
                if received:
                    self._say(f"gave up {gave_up}", f"balancer: a {method} failed on {', '.join(tried)} "
                              f"({'; '.join(failures)}); not sent again: {gave_up}; answering 502")
                else:
                    self._count("unavailable")
                    why = ", ".join(f"{name}: {f}" for name, f in zip(tried, failures, strict=True))
                    self._say("unavailable", f"balancer: no backend is reachable ({why}); answering 503")
                break
            except upstream.BrokenResponse as e:
                failures.append(str(e))
                received = True
                self._request_done(backend, False, str(e))
                self.not_retried["broken response"] += 1
                self._say(f"broken {backend.name}", f"balancer: {backend.name} broke off a response: {e}")
                break
            finally:
                self.in_flight[backend.name] -= 1
            flow.response = _as_response(answer)
            flow.server_conn = self._answered_by(backend, answer.peer)
            self._answered[flow.id] = backend
            break
        if flow.response is None:
            flow.response = _own_error(502 if received else 503)
            self._answered[flow.id] = None
        if len(tried) > 1 or failures:
            flow.metadata["stickyguard"].update(tried=tried, failures=failures)

    def _answered_by(self, backend: backends.Backend, peer: tuple[str, int]) -> connection.Server:
        """Who answered, for the response hook, the recorder and saved flows (not mitmproxy's connection):
        one record per backend and address, shared by the flows it answered as flows over one connection
        share theirs (a new one per response cost 1.5 % of a request)."""
        key = (backend.spec.host, backend.spec.port, peer)
        server = self._servers.get(key)
        if server is None:
            if len(self._servers) >= SERVERS_KEPT:
                self._servers.clear()
            server = self._servers[key] = connection.Server(address=key[:2], peername=peer)
        return server

    def _backend_failed(self, backend: backends.Backend, why: str) -> None:
        """Passive health: a backend that refused, reset or closed on a request is down at once, until
        probes say otherwise; one that is slow or answers something that is not HTTP counts a failure."""
        if why in ("response timeout", "not an HTTP response"):
            self._request_done(backend, False, why)
        elif self.health is not None and self.health.mark_failed(backend):
            self._went(backend, why)

    def _request_done(self, backend: backends.Backend, ok: bool, why: str = "") -> None:
        if self.health is not None and self.health.request_done(backend, ok):
            self._went(backend, f"{self.health.spec.fall} failed requests in a row, the last: {why}")

    def error(self, flow: http.HTTPFlow) -> None:
        self.waiting.finished(flow.client_conn.id, time.monotonic())
        self._answered.pop(flow.id, None)
        decision = self._decisions.pop(flow.id, None)
        if decision is not None:
            self.in_flight[decision.backend.name] -= 1
            self._log_access(flow, decision)

    def server_connect_error(self, data: server_hooks.ServerConnectionHookData) -> None:
        backend = self._backend_at(data.server.address)
        if backend is not None and self.health is not None and self.health.mark_failed(backend):
            self._went(backend, "a connection failed")

    async def response(self, flow: http.HTTPFlow) -> None:
        if flow.response is None or flow.response.status_code != 101:  # an upgraded connection has no deadline
            self.waiting.finished(flow.client_conn.id, time.monotonic())
        decision = self._decisions.pop(flow.id, None)
        if decision is not None:
            self.in_flight[decision.backend.name] -= 1
        relayed, answered = flow.id in self._answered, self._answered.pop(flow.id, None)
        meta = flow.metadata.get("stickyguard")
        if self.pool is None or decision is None or meta is None or flow.response is None:
            return
        served = answered if relayed else self._backend_at(flow.server_conn.address)
        meta["backend"] = served.name if served is not None else None  # None: the balancer's own 502/503
        if served is not None:
            status = flow.response.status_code
            self._request_done(served, not health.failed_answer(status), f"answered {status}")
        self._log_access(flow, decision)
        if served is None:
            return
        assert self.strategy is not None  # a decision was made
        try:
            lines = await self.strategy.respond(_Request(flow), _Response(flow.response), decision, served)
        except store.StoreUnavailable as e:
            self._count("unlearned")
            self._table_down(e)
            return
        for line in lines:
            flow.response.headers.add("Set-Cookie", line)

    def _log_access(self, flow: http.HTTPFlow, decision: affinity.Decision) -> None:
        """One JSON line per request (balance_access_log); the client only as a keyed hash."""
        if self._access_log is None:
            return
        meta = flow.metadata.get("stickyguard", {})
        end = flow.response.timestamp_end if flow.response is not None else None
        start = flow.request.timestamp_start
        peer = flow.client_conn.peername
        client = _client_hash(self._client_key, str(peer[0]) if peer else "")
        entry = {
            "time": clock.utc_iso(start, "milliseconds"),
            "client": client,
            "method": flow.request.method,
            "backend": meta.get("backend", decision.backend.name),  # who answered (after a failover)
            "decision": decision.label,
            "status": flow.response.status_code if flow.response is not None else None,
            "duration_ms": round((end - start) * 1000, 1) if end and start else None,
        }
        if flow.error is not None:
            entry["error"] = "the backend connection failed"  # mitmproxy's text would name the address
        if "failures" in meta:
            entry["tried"], entry["failures"] = meta["tried"], meta["failures"]
        try:
            self._access_log.write(json.dumps(entry) + "\n")
        except (OSError, ValueError) as e:  # a full disk must not stop the balancing
            logging.error(f"balancer: access log: {e}")

    def _table_down(self, error: store.StoreUnavailable) -> None:
        self._say("table down", f"balancer: the session table is unavailable ({error}); "
                  "sessions are placed anew until it is back")

    def _say(self, key: str, text: str) -> None:
        """Log trouble at most every SAY_EVERY seconds per kind of trouble, not once per request."""
        now = time.monotonic()
        if now - self._said.get(key, float("-inf")) >= SAY_EVERY:
            self._said[key] = now
            logging.warning(text)

    @command.command("balance.status")
    def status(self) -> str:
        """Per backend: health, weight, sessions, requests, moves; the spread and routing counts."""
        if self.pool is None:
            return "balancer: no backends configured"
        lines = []
        for b in self.pool.backends.values():
            state = "up" if b.up else "down"
            if b.draining:
                state += ", draining"
            lines.append(f"{b.name}: {state}, weight {b.spec.weight}, sessions {b.sessions}, requests {b.requests}, "
                         f"moved in {b.moves_in}, moved out {b.moves_out}")
        spread = self.pool.spread()
        lines.append(f"spread: max/mean {spread['max_mean']:.2f}, Jain {spread['jain']:.3f}; "
                     + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())))
        return "\n".join(lines)

    def snapshot(self) -> dict[str, Any]:
        """The state the runtime API and /metrics report."""
        backends_ = list(self.pool.backends.values()) if self.pool is not None else []
        return {
            "kind": self.strategy.name if self.strategy is not None else "",
            "backends": [{
                "name": b.name, "address": f"{b.spec.scheme}://{b.spec.host}:{b.spec.port}", "up": b.up,
                "draining": b.draining, "weight": b.spec.weight, "sessions": b.sessions, "requests": b.requests,
                "in_flight": max(self.in_flight[b.name], 0), "moved_in": b.moves_in, "moved_out": b.moves_out,
                "transitions": dict(self.transitions.get(b.name, {})),
            } for b in backends_],
            "counts": dict(self.counts),
            "rejected": dict(self.rejected),
            "retries": dict(self.retries),
            "clients_waiting": len(self.waiting),
            "table_entries": len(table) if isinstance(table := self._session_table(), store.MemoryStore) else None,
            "clients_closed": dict(self.closed_clients),
            "not_retried": dict(self.not_retried),
            "spread": self.pool.spread() if self.pool is not None else {"max_mean": 1.0, "jain": 1.0},
        }

    def set_weight(self, name: str, weight: int) -> None:
        """NAME's weight for new sessions (p2c and round-robin) until the next reload."""
        if not 0 < weight <= 1000:
            raise ValueError("a weight is 1..1000")
        backend = self._backend(name)
        backend.spec = backend.spec._replace(weight=weight)

    @command.command("balance.reload")
    def reload(self) -> None:
        """Re-read the backends and the secret file (a rotated key takes effect; sessions stay)."""
        self.configure({"balance_backends", "balance_secret_file"})

    @command.command("balance.drain")
    def drain(self, name: str) -> None:
        """Take no new sessions on NAME; its sessions stay until they end."""
        self._backend(name).draining = True

    @command.command("balance.undrain")
    def undrain(self, name: str) -> None:
        """NAME takes new sessions again."""
        self._backend(name).draining = False

    def _backend_at(self, address: tuple | None) -> backends.Backend | None:
        """The backend at mitmproxy's server address (IPv6 addresses carry 4 fields)."""
        return self.by_addr.get((str(address[0]), int(address[1]))) if address else None

    def _backend(self, name: str) -> backends.Backend:
        if self.pool is None or name not in self.pool.backends:
            raise exceptions.CommandError(f"no backend named {name!r}")
        return self.pool.backends[name]


@functools.lru_cache(maxsize=4096)  # clients come back: one keyed hash per address, not per request
def _client_hash(key: bytes, address: str) -> str:
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:16]


def _relayable(request: http.Request) -> bool:
    """What the balancer sends itself: a whole request that is not an upgrade (WebSocket, h2c)."""
    return not request.stream and not request.trailers and "upgrade" not in request.headers \
        and request.method != "CONNECT"


def _wire_request(request: http.Request) -> tuple[bytes, bytes]:
    """The request head and framed body as HTTP/1.1, the way mitmproxy's own HTTP/1 client sends it."""
    if request.is_http2 or request.is_http3:
        request = request.copy()
        request.http_version = "HTTP/1.1"
        if "Host" not in request.headers and request.authority:
            request.headers.insert(0, "Host", request.authority)
        request.authority = ""
        cookies = request.headers.get_all("Cookie")
        if len(cookies) > 1:  # only HTTP/2 allows several (RFC 9113 section 8.2.3)
            request.headers["Cookie"] = "; ".join(cookies)
    body = request.raw_content or b""
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    elif body and "content-length" not in request.headers:
        request = request.copy()
        request.headers["content-length"] = str(len(body))
    return http1.assemble_request_head(request), body


def _as_response(answer: upstream.Answer) -> http.Response:
    trailers = http.Headers(answer.trailers) if answer.trailers else None
    return http.Response(answer.http_version, answer.status, answer.reason, http.Headers(answer.headers),
                         answer.body, trailers, answer.started, answer.ended)


def _target(backend: backends.Backend) -> upstream.Target:
    return upstream.Target(backend.spec.host, backend.spec.port, backend.spec.scheme == "https")


def _own_error(status: int) -> http.Response:
    """The balancer's own answer when no backend could: no address, port or software version in it."""
    return http.Response.make(status, ctx.options.balance_error_body.encode("utf-8"), forwarding.error_headers(status))


def _upstream_tls() -> ssl.SSLContext:
    """TLS towards https backends, verified as mitmproxy verifies upstream servers: against its trusted CA
    options when set, else certifi's public CAs."""
    opts = ctx.options
    cafile, capath = opts.ssl_verify_upstream_trusted_ca, opts.ssl_verify_upstream_trusted_confdir
    try:
        context = ssl.create_default_context(cafile=cafile or (None if capath else certifi.where()),
                                             capath=capath or None)
    except (OSError, ssl.SSLError) as e:
        raise exceptions.OptionsError(f"ssl_verify_upstream_trusted_ca: {e}") from e
    if opts.ssl_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


class _Request:
    """A flow's request as an affinity kind reads it (balancing/affinity.py's RequestView), computed on demand."""

    def __init__(self, flow: http.HTTPFlow):
        self._request = flow.request
        peer = flow.client_conn.peername
        self.peer = str(peer[0]) if peer else "0.0.0.0"
        self.tls = flow.client_conn.tls_established

    @property
    def path(self) -> str:
        return self._request.path

    @functools.cached_property
    def cookie_lines(self) -> list[str]:
        return self._request.headers.get_all("cookie")

    def cookie(self, name: str) -> str | None:
        """The first cookie of that name, as mitmproxy's `request.cookies` reads it."""
        lines = tuple(self.cookie_lines)
        if sum(map(len, lines)) > COOKIE_CACHED_UP_TO:  # not kept: a client could fill the cache with big ones
            return _cookie_pairs.__wrapped__(lines).get(name)
        return _cookie_pairs(lines).get(name)

    def header(self, name: str) -> str | None:
        return self._request.headers.get(name)

    def header_all(self, name: str) -> list[str]:
        return self._request.headers.get_all(name)

    def query(self, name: str) -> str | None:
        return self._request.query.get(name)


@functools.lru_cache(maxsize=4096)  # a client sends the same Cookie header request after request
def _cookie_pairs(lines: tuple[str, ...]) -> dict[str, str]:
    """name -> the first value, shared between requests: read only."""
    pairs: dict[str, str] = {}
    for line in lines:
        for key, value in audit_api.cookie_pairs(line):
            pairs.setdefault(key, value)
    return pairs


class _Response:
    def __init__(self, response: http.Response):
        self._response = response

    def set_cookies(self) -> list[affinity.SetCookie]:
        out = []
        for line in self._response.headers.get_all("set-cookie"):
            try:
                parsed = audit_api.parse_set_cookie(line)
                if parsed:
                    lifetime = audit_api.cookie_lifetime(parsed[2], self._response.timestamp_start or 0)
                    out.append(affinity.SetCookie(parsed[0], parsed[1], lifetime))
            except ValueError as e:  # one odd Set-Cookie must not hide the others
                logging.warning(f"balancer: unreadable Set-Cookie skipped: {e}")
        return out


addons = [Balancer()]


class _Controls:
    """What the runtime API may do to the balancer (balancing/admin.py's Controls)."""

    def __init__(self, balancer: Balancer):
        self.balancer = balancer

    def snapshot(self) -> dict[str, Any]:
        return self.balancer.snapshot()

    def metrics(self) -> bytes:
        return metrics.exposition(self.balancer._registry)

    def drain(self, name: str) -> None:
        self._do(self.balancer.drain, name)

    def undrain(self, name: str) -> None:
        self._do(self.balancer.undrain, name)

    def reload(self) -> None:
        try:
            self.balancer.reload()
        except exceptions.OptionsError as e:
            raise ValueError(str(e)) from None

    def set_weight(self, name: str, weight: int) -> None:
        self._do(self.balancer.set_weight, name, weight)

    @staticmethod
    def _do(action, *args) -> None:
        try:
            action(*args)
        except exceptions.CommandError as e:
            raise LookupError(str(e)) from None
