"""The balancer in a real mitmdump in front of real loopback backends, with a keep-alive client."""

import http.client
import http.server
import itertools
import json
import threading

import pytest

from tests.e2e.conftest import ROOT  # noqa: F401  (the fixtures live there)

pytestmark = pytest.mark.slow  # real processes: left out of `make check`

SECRET = "0123456789abcdef0123456789abcdef"


class _Named(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self):
        length = int(self.headers.get("content-length") or 0)
        body_in = self.rfile.read(length) if length else b""
        body = f"{self.server.name} {len(body_in)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _reply
    do_POST = _reply

    def setup(self):
        super().setup()
        self.server.connections.add(self.connection)

    def log_message(self, *args):
        pass


_SESSION_IDS = itertools.count(1)  # id(self) would repeat: handlers are freed and their ids reused


class _SetsSession(_Named):
    """An application that starts a session when the client has none."""

    def _reply(self):
        body = self.server.name.encode()
        self.send_response(200)
        if "JSESSIONID" not in (self.headers.get("cookie") or ""):
            self.send_header("Set-Cookie", f"JSESSIONID=sess-{self.server.name}-{next(_SESSION_IDS)}; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _reply


@pytest.fixture
def named_backends():
    servers = {}
    for name in ("app1", "app2", "app3"):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Named)
        srv.name = name
        srv.connections = set()
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers[name] = srv
    yield servers
    for srv in servers.values():
        try:
            srv.shutdown()
            srv.server_close()
        except OSError:
            pass


def kill(srv):
    """As if the backend process died: no listener, and every open connection closed."""
    import socket
    import time

    srv.shutdown()
    srv.server_close()
    for conn in list(srv.connections):
        try:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        except OSError:
            pass
    time.sleep(0.3)  # let the proxy see its pooled connections close


class Client:
    """One keep-alive connection with its own cookie jar, as a browser tab."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.cookie = None

    def get(self, method="GET", body=None):
        headers = {"Host": "shop.example"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.conn.request(method, "/", body=body, headers=headers)
        r = self.conn.getresponse()
        text = r.read().decode()
        set_cookie = r.getheader("set-cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";")[0]
        return r.status, text


def start(mitmdump, servers, *extra):
    args = ["--mode", "reverse:http://127.0.0.1:1", "-s", "addons/balancer.py",
            "--set", "connection_strategy=lazy", "--set", f"balance_secret={SECRET}", "--set", "balance_health="]
    for name, srv in servers.items():
        args += ["--set", f"balance_backends={name}=http://127.0.0.1:{srv.server_address[1]}"]
    return mitmdump.start(*args, *extra)


def test_cookie_affinity_sticks_and_survives_a_dead_backend(named_backends, mitmdump):
    port = start(mitmdump, named_backends)
    clients = [Client(port) for _ in range(12)]
    pinned = {}
    for i, c in enumerate(clients):
        statuses = {c.get() for _ in range(4)}
        (only,) = statuses                       # the same backend for every request of a session
        assert only[0] == 200
        pinned[i] = only[1].split()[0]
    assert len(set(pinned.values())) >= 2        # sessions are spread

    victim = pinned[0]
    kill(named_backends[victim])
    for i, c in enumerate(clients):
        status, text = c.get("POST", body=b"x" * 20000)
        assert status == 200 and text.endswith(" 20000")          # no request lost, body intact
        if pinned[i] == victim:
            assert not text.startswith(victim)
        status2, text2 = c.get()
        assert text2.split()[0] == text.split()[0]                # re-pinned where it was moved


def test_tampered_cookie_never_routes_elsewhere_and_never_crashes(named_backends, mitmdump):
    port = start(mitmdump, named_backends)
    c = Client(port)
    c.get()
    name, value = c.cookie.split("=", 1)
    for forged in (value[:-5] + "AAAAA", "s1.garbage", "app2", "", "s1." + "A" * 400):
        c.cookie = f"{name}={forged}"
        status, text = c.get()
        assert status == 200 and text.split()[0] in named_backends


def _launch_balance(tmp_path, servers, *extra):
    import subprocess
    import sys

    from tests.e2e.conftest import free_port
    from tests.e2e.conftest import wait_for_port

    port = free_port()
    cmd = [sys.executable, "-m", "stickyguard.addons.launch", "balance", "--listen", f"127.0.0.1:{port}",
           "--secret-file", str(tmp_path / "secret"), "--confdir", str(tmp_path / "conf"),
           *([] if "--health" in extra else ["--health", ""]), *extra]
    for name, srv in servers.items():
        cmd += ["--backend", f"{name}=http://127.0.0.1:{srv.server_address[1]},route=r-{name}"]
    # The proxy's log (stdout) and errors (stderr) in one stream, read when it stops.
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_port(port, proc)
    return port, proc


def _stop(proc):
    import signal

    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    return out.decode()


@pytest.mark.parametrize("kind,extra,cookie", [
    ("ip", ["--ip-prefix", "24"], None),
    ("route", [], "JSESSIONID=ABCDEF0123456789.r-app2"),
])
def test_launcher_ip_and_route_affinity(named_backends, tmp_path, kind, extra, cookie):
    port, proc = _launch_balance(tmp_path, named_backends, "--affinity", kind, *extra)
    try:
        seen = set()
        for _ in range(3):
            c = Client(port)
            c.cookie = cookie
            seen |= {c.get()[1].split()[0] for _ in range(3)}
        # Every client comes from 127.0.0.1 (one /24) or carries route r-app2: one backend serves all.
        assert len(seen) == 1
        if kind == "route":
            assert seen == {"app2"}
    finally:
        err = _stop(proc)
    assert "the same with mitmdump:" in err and "mitmdump -s addons/balancer.py" in err


def test_launcher_app_cookie_learns_from_the_application(named_backends, tmp_path):
    for srv in named_backends.values():
        srv.RequestHandlerClass = _SetsSession
    port, proc = _launch_balance(tmp_path, named_backends, "--affinity", "app-cookie")
    try:
        for _ in range(4):
            c = Client(port)
            first = c.get()[1]
            assert c.cookie.startswith("JSESSIONID=")
            assert {c.get()[1] for _ in range(4)} == {first}    # learned value -> backend
    finally:
        _stop(proc)


def _sessions(port, n=4):
    """Start n sessions on `port`; their cookies and the backend each one landed on."""
    out = []
    for _ in range(n):
        c = Client(port)
        backend = c.get()[1]
        out.append((c.cookie, backend))
    return out


def test_app_cookie_table_survives_a_restart_with_sqlite(named_backends, tmp_path):
    for srv in named_backends.values():
        srv.RequestHandlerClass = _SetsSession
    table = f"sqlite:{tmp_path / 'sessions.db'}"
    port, proc = _launch_balance(tmp_path, named_backends, "--affinity", "app-cookie", "--store", table)
    try:
        sessions = _sessions(port)
    finally:
        _stop(proc)
    port, proc = _launch_balance(tmp_path, named_backends, "--affinity", "app-cookie", "--store", table)
    try:
        for cookie, backend in sessions:
            c = Client(port)
            c.cookie = cookie
            assert c.get()[1] == backend             # the restarted proxy knows the session
    finally:
        _stop(proc)


def test_two_proxies_sharing_redis_route_a_session_alike(named_backends, tmp_path, redis_url):
    for srv in named_backends.values():
        srv.RequestHandlerClass = _SetsSession
    first, p1 = _launch_balance(tmp_path, named_backends, "--affinity", "app-cookie", "--store", redis_url)
    second, p2 = _launch_balance(tmp_path, named_backends, "--affinity", "app-cookie", "--store", redis_url)
    try:
        for cookie, backend in _sessions(first, 6):
            c = Client(second)
            c.cookie = cookie
            assert c.get()[1] == backend             # learned by one proxy, honoured by the other
    finally:
        _stop(p1)
        _stop(p2)


def test_active_health_checks_take_a_dead_backend_out_and_a_recovered_one_back(named_backends, tmp_path):
    import time

    port, proc = _launch_balance(tmp_path, {"app1": named_backends["app1"], "app2": named_backends["app2"]},
                                 "--health", "tcp,interval=0.2,timeout=0.2,rise=1,fall=1", "--policy", "round-robin")
    try:
        assert {Client(port).get()[1].split()[0] for _ in range(6)} == {"app1", "app2"}
        victim_port = named_backends["app2"].server_address[1]
        kill(named_backends["app2"])
        time.sleep(0.8)                              # a few probe intervals
        assert {Client(port).get()[1].split()[0] for _ in range(6)} == {"app1"}
        revived = http.server.ThreadingHTTPServer(("127.0.0.1", victim_port), _Named)
        revived.name, revived.connections, revived.daemon_threads = "app2", set(), True
        threading.Thread(target=revived.serve_forever, daemon=True).start()
        try:
            time.sleep(0.8)
            assert {Client(port).get()[1].split()[0] for _ in range(6)} == {"app1", "app2"}
        finally:
            revived.shutdown()
            revived.server_close()
    finally:
        _stop(proc)


@pytest.mark.parametrize("kind,extra,cookie", [
    ("ip", ["--set", "balance_ip_prefix=24"], None),
    ("route", [], "JSESSIONID=ABCDEF0123456789.r-app3"),
    ("app-cookie", [], None),
])
def test_every_kind_through_mitmdump_s(named_backends, mitmdump, kind, extra, cookie):
    for srv in named_backends.values():
        srv.RequestHandlerClass = _SetsSession
    args = ["--mode", "reverse:http://127.0.0.1:1", "-s", "addons/balancer.py", "--set", "connection_strategy=lazy",
            "--set", f"balance_secret={SECRET}", "--set", "balance_health=", "--set", f"balance_affinity={kind}"]
    for name, srv in named_backends.items():
        args += ["--set", f"balance_backends={name}=http://127.0.0.1:{srv.server_address[1]},route=r-{name}"]
    port = mitmdump.start(*args, *extra)
    for _ in range(4):
        c = Client(port)
        if cookie:
            c.cookie = cookie
        first = c.get()[1]
        if kind == "app-cookie":
            assert c.cookie.startswith("JSESSIONID=")
        assert {c.get()[1] for _ in range(3)} == {first}
        if kind == "route":
            assert first == "app3"


def test_a_move_is_reported(named_backends, tmp_path):
    port, proc = _launch_balance(tmp_path, {"app1": named_backends["app1"], "app2": named_backends["app2"]})
    try:
        c = Client(port)
        pinned = c.get()[1].split()[0]
        kill(named_backends[pinned])
        status, text = c.get()
        assert status == 200 and not text.startswith(pinned)
    finally:
        err = _stop(proc)
    assert f"balancer: {pinned} unreachable (" in err and ", sending to " in err
    assert "Traceback" not in err


def _self_signed_pem(path):
    """A certificate and key for 127.0.0.1, made here (mitmproxy already depends on cryptography)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stickyguard test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_behind_tls_the_cookie_is_host_prefixed_and_secure(named_backends, tmp_path):
    import ssl

    pem = _self_signed_pem(tmp_path / "site.pem")
    port, proc = _launch_balance(tmp_path, named_backends, "--certs", f"*={pem}", "--trusted-proxy", "127.0.0.1/32")
    try:
        # 1. The balancer terminates TLS with the operator's certificate (verified against it).
        context = ssl.create_default_context(cafile=str(pem))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        conn.request("GET", "/")
        r = conn.getresponse()
        served = r.read().decode().split()[0]
        cookie = r.getheader("set-cookie")
        assert cookie.startswith("__Host-sg_affinity=s1.") and "; Secure" in cookie and "Domain" not in cookie
        for _ in range(3):
            conn.request("GET", "/", headers={"Cookie": cookie.split(";")[0]})
            r = conn.getresponse()
            assert r.read().decode().split()[0] == served and r.getheader("set-cookie") is None
        conn.close()
        # 2. A TLS terminator in front (a trusted peer) says so with X-Forwarded-Proto.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/", headers={"X-Forwarded-Proto": "https"})
        r = c.getresponse()
        r.read()
        assert r.getheader("set-cookie").startswith("__Host-sg_affinity=") and "; Secure" in r.getheader("set-cookie")
        c.close()
    finally:
        _stop(proc)


def test_x_forwarded_proto_from_an_untrusted_peer_is_ignored(named_backends, tmp_path):
    port, proc = _launch_balance(tmp_path, named_backends)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/", headers={"X-Forwarded-Proto": "https"})
        r = c.getresponse()
        r.read()
        assert r.getheader("set-cookie").startswith("sg_affinity=") and "Secure" not in r.getheader("set-cookie")
    finally:
        _stop(proc)


class _EchoesHeaders(_Named):
    """Answers with the request headers it received, one per line."""

    def _reply(self):
        body = "".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _reply


def test_backends_get_no_balancer_cookie_and_x_forwarded_and_all_down_leaks_nothing(named_backends, tmp_path):
    for srv in named_backends.values():
        srv.RequestHandlerClass = _EchoesHeaders
    port, proc = _launch_balance(tmp_path, named_backends)
    try:
        c = Client(port)
        c.get()
        assert c.cookie.startswith("sg_affinity=")
        c.cookie += "; theme=dark"
        status, seen = c.get()
        assert status == 200 and "sg_affinity" not in seen and "cookie: theme=dark" in seen
        assert "x-forwarded-for: 127.0.0.1" in seen and "x-forwarded-proto: http" in seen
        assert "x-forwarded-host: shop.example" in seen
        ports = [str(srv.server_address[1]) for srv in named_backends.values()]
        for srv in list(named_backends.values()):
            kill(srv)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/", headers={"Host": "shop.example", "Cookie": c.cookie})
        r = conn.getresponse()
        raw = "".join(f"{k}: {v}\n" for k, v in r.getheaders()) + r.read().decode()
        assert r.status == 503
        for leak in ["127.0.0.1", "mitmproxy", "Connect call failed", *ports]:
            assert leak not in raw, leak
    finally:
        err = _stop(proc)
    assert "balancer: no backend is reachable (" in err and "); answering 503" in err
    assert "Traceback" not in err


def _ctl(sock, *args):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "stickyguard.addons.launch", "ctl", "--admin", f"unix:{sock}", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _metrics(sock):
    from prometheus_client.parser import text_string_to_metric_families

    from stickyguard.addons import ctl

    status, text = ctl.fetch(f"unix:{sock}", "GET", "/metrics")
    assert status == 200
    return {(m.name, tuple(sorted(m.labels.items()))): m.value
            for family in text_string_to_metric_families(text.decode()) for m in family.samples}


def _revive(srv_port, name):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", srv_port), _Named)
    srv.name, srv.connections, srv.daemon_threads = name, set(), True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_ctl_operates_a_running_balancer_and_metrics_count_what_it_did(named_backends, tmp_path):
    import time

    sock = tmp_path / "run" / "admin.sock"
    port, proc = _launch_balance(tmp_path, named_backends, "--admin", f"unix:{sock}", "--policy", "round-robin",
                                 "--health", "tcp,interval=0.2,timeout=0.2,rise=1,fall=1")
    revived = None
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {Client(port).get()[1].split()[0] for _ in range(6)} == {"app1", "app2", "app3"}
        assert "draining" in _ctl(sock, "drain", "app2")
        assert "app2" not in {Client(port).get()[1].split()[0] for _ in range(9)}
        _ctl(sock, "undrain", "app2")
        samples = _metrics(sock)
        sent = sum(v for (name, _), v in samples.items() if name == "stickyguard_requests_total")
        assert sent == 15
        assert samples[("stickyguard_decisions_total", (("kind", "cookie"), ("reason", "new")))] == 15
        # Reconfigure through the API, then kill and revive a backend: it takes new sessions again.
        assert json.loads(_ctl(sock, "--json", "reload"))["ok"] is True
        victim = named_backends["app3"].server_address[1]
        kill(named_backends["app3"])
        time.sleep(0.8)
        assert "app3" not in {Client(port).get()[1].split()[0] for _ in range(6)}
        revived = _revive(victim, "app3")
        time.sleep(0.8)
        assert "app3" in {Client(port).get()[1].split()[0] for _ in range(6)}
        samples = _metrics(sock)
        assert samples[("stickyguard_health_transitions_total", (("backend", "app3"), ("to", "up")))] >= 1
    finally:
        if revived is not None:
            revived.shutdown()
            revived.server_close()
        err = _stop(proc)
    assert "balancer: app3 is down" in err and "balancer: app3 is up" in err
    assert "Traceback" not in err
