"""Browse a loopback site through mitmdump with the recorder, then audit the recording: the same
findings as auditing a flow file of the same traffic, and no raw value or client address kept."""

import base64
import concurrent.futures
import contextlib
import http.server
import json
import stat
import threading
import time
import urllib.request

import pytest

from stickyguard.audit import cli
from tests.e2e.conftest import COOKIES

pytestmark = pytest.mark.slow  # real processes: left out of `make check`


def browse(proxy_port: int) -> None:
    for path in COOKIES:
        with urllib.request.urlopen(f"http://127.0.0.1:{proxy_port}{path}?q=Wh1sperQuery", timeout=10) as r:
            assert r.status == 200


def recorded(path, lines: int) -> str:
    """The recording once it holds `lines` lines: each is written within the recorder's WRITE_DELAY (0.2 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if len(text.splitlines()) >= lines:
            return text
        time.sleep(0.05)
    return text


def audit_json(path, capsys) -> dict:
    status = cli.main(["audit", str(path), "--format", "json"])
    out, _ = capsys.readouterr()
    assert status == 1, out
    return json.loads(out)


def test_recording_and_flow_file_give_the_same_findings(backend, mitmdump, tmp_path, capsys):
    rec, flows = tmp_path / "site.jsonl", tmp_path / "site.mitm"
    port = mitmdump.start("--mode", f"reverse:http://127.0.0.1:{backend}", "-s", "addons/recorder.py",
                          "--set", f"record_file={rec}", "-w", str(flows))
    browse(port)
    # Lines are flushed within 0.2 s: the recording is complete while the proxy runs.
    assert len(recorded(rec, len(COOKIES)).splitlines()) == len(COOKIES)
    mitmdump.stop()

    from_recording, from_flows = audit_json(rec, capsys), audit_json(flows, capsys)

    def key(doc):
        return sorted((f["rule"], f["host"], f["cookie"], f["count"]) for f in doc["findings"])

    assert key(from_recording) == key(from_flows)
    assert {c["name"]: c["decoded"] for c in from_recording["cookies"]} == {
        c["name"]: c["decoded"] for c in from_flows["cookies"]}
    assert {"SG201", "SG205", "SG208", "SG302"} <= {f["rule"] for f in from_recording["findings"]}


def test_default_recording_keeps_no_raw_value_or_client_address(backend, mitmdump, tmp_path):
    rec = tmp_path / "site.jsonl"
    port = mitmdump.start("--mode", f"reverse:http://127.0.0.1:{backend}", "-s", "addons/recorder.py",
                          "--set", f"record_file={rec}")
    browse(port)
    text = recorded(rec, len(COOKIES))
    raw_values = [c.split(";")[0].split("=", 1)[1] for cookies in COOKIES.values() for c in cookies]
    # HAProxy's SERVERID value is the server name itself: it is kept as decoded evidence.
    assert [v for v in raw_values if v in text] == ["app2"]
    assert '"server":"app2"' in text
    assert "Wh1sperQuery" not in text  # the query value
    for raw in text.splitlines():
        line = json.loads(raw)
        assert line["client"].startswith("hmac-sha256:")
        # The client (127.0.0.1 here) appears nowhere; the backend's address is what it should be.
        assert "127.0.0.1" not in json.dumps({k: v for k, v in line.items() if k not in ("server", "url")})
        assert line["server"] == {"address": "127.0.0.1", "port": backend}


def test_live_auditor_writes_its_report_when_the_proxy_stops(backend, mitmdump, tmp_path):
    report = tmp_path / "live.json"
    port = mitmdump.start("--mode", f"reverse:http://127.0.0.1:{backend}", "-s", "addons/auditor.py",
                          "--set", f"audit_report={report}")
    browse(port)
    mitmdump.stop()
    doc = json.loads(report.read_text())
    assert doc["inputs"][0]["exchanges"] == len(COOKIES)
    assert {"SG201", "SG205"} <= {f["rule"] for f in doc["findings"]}


def test_stickyguard_record_in_regular_mode(backend, tmp_path):
    """The launcher: `stickyguard record` as a forward proxy, stopped with SIGTERM."""
    import signal
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT
    from tests.e2e.conftest import free_port
    from tests.e2e.conftest import wait_for_port

    rec, port = tmp_path / "fwd.jsonl", free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stickyguard.addons.launch", "record", "--listen", f"127.0.0.1:{port}",
                             "-o", str(rec), "--confdir", str(tmp_path / "conf")],
                            cwd=ROOT, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"}))
        for path in COOKIES:
            with opener.open(f"http://127.0.0.1:{backend}{path}", timeout=10) as r:
                assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    lines = [json.loads(x) for x in rec.read_text().splitlines()]
    assert len(lines) == len(COOKIES)
    assert {c["vendor"] for line in lines for c in line["set_cookies"]} >= {"f5-bigip", "haproxy", "ingress-nginx"}


def test_recorder_in_upstream_mode(backend, mitmdump, tmp_path):
    """mitmdump chained to another proxy (upstream mode) records the same exchanges."""
    rec = tmp_path / "upstream.jsonl"
    parent = mitmdump.start("--mode", "regular")
    port = mitmdump.start("--mode", f"upstream:http://127.0.0.1:{parent}", "-s", "addons/recorder.py",
                          "--set", f"record_file={rec}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{port}"}))
    for path in COOKIES:
        with opener.open(f"http://127.0.0.1:{backend}{path}", timeout=10) as r:
            assert r.status == 200
    lines = [json.loads(x) for x in recorded(rec, len(COOKIES)).splitlines()]
    assert [line["url"].split("?")[0].rsplit("/", 1)[-1] for line in lines] == [p.strip("/") for p in COOKIES]


@contextlib.contextmanager
def site(cookies_for):
    """A loopback site whose response to PATH sets the cookies `cookies_for(PATH)` names; yields its port."""

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            for cookie in cookies_for(self.path):
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _Canaries:
    """A site that hands out values a recording must not keep (issue 12)."""

    EMAIL = "carol.canary@example.com"
    TOKEN = "Tok3nCanary77"
    COOKIES = [
        f"contact={EMAIL}; Path=/",                                   # an e-mail in a cookie value
        f"back=https://app.internal:8443/cb?token={TOKEN}; Path=/",   # a backend URL with a token
        "JSESSIONID=Sess1onCanary.node2; Path=/; HttpOnly",
    ]


def test_the_recording_keeps_none_of_the_canaries(mitmdump, tmp_path):
    header = base64.urlsafe_b64encode(b'{"alg":"HS256"}').rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(json.dumps({"email": _Canaries.EMAIL}).encode()).rstrip(b"=").decode()
    jwt = f"{header}.{claims}.c2ln"
    rec = tmp_path / "site.jsonl"
    with site(lambda path: [*_Canaries.COOKIES, f"id={jwt}; Path=/"]) as backend:
        port = mitmdump.start("--mode", f"reverse:http://127.0.0.1:{backend}", "-s", "addons/recorder.py",
                              "--set", f"record_file={rec}")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/shop;jsessionid=PathCanary42/cart?user={_Canaries.EMAIL}&t={_Canaries.TOKEN}",
            headers={"Referer": f"https://shop.example/login?next=/x&token={_Canaries.TOKEN}&u={_Canaries.EMAIL}",
                     "Cookie": "JSESSIONID=ReqCookieCanary"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200
        mitmdump.stop()
    text = rec.read_text()
    for canary in (_Canaries.EMAIL, _Canaries.TOKEN, "PathCanary42", "Sess1onCanary", "ReqCookieCanary", "carol"):
        assert canary not in text, canary
    assert stat.S_IMODE(rec.stat().st_mode) == 0o600
    line = json.loads(text)
    assert ";jsessionid=/cart" in line["url"] and "user=&t=" in line["url"]
    by_name = {c["name"]: c for c in line["set_cookies"]}
    assert by_name["contact"]["decoded"]["email"].startswith("hmac-sha256:")
    assert by_name["back"]["decoded"]["url"] == "https://app.internal:8443/cb?token="


def test_one_hostile_response_does_not_hold_up_other_clients(mitmdump, tmp_path):
    """A value that used to take the leak search over a minute (`1::` + letters + `::`), through the
    recorder and the live auditor: the client that asked waits for its own response only; another
    client is served at once all the while."""
    hostile = ["lb=1::" + "abcdef" * 7 + "::; Path=/", "pad=" + "1:" * 3000 + "; Path=/",
               "BIGipServerweb=1677787402.36895.0000; Path=/"]
    rec = tmp_path / "site.jsonl"
    with site(lambda path: hostile if path == "/hostile" else []) as backend:
        port = mitmdump.start("--mode", f"reverse:http://127.0.0.1:{backend}",
                              "-s", "addons/recorder.py", "-s", "addons/auditor.py", "--set", f"record_file={rec}")

        def get(path):
            start = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                assert r.status == 200
            return time.monotonic() - start

        get("/plain")  # warm: connections and the first hook calls
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            hostile_done = pool.submit(lambda: [get("/hostile") for _ in range(3)])
            others = [get("/plain") for _ in range(20)]
            hostile_times = hostile_done.result(timeout=60)
        mitmdump.stop()
    assert max(others) < 1.0, others
    assert max(hostile_times) < 5.0, hostile_times
    assert "BIGipServerweb" in rec.read_text()  # the cookie beside the hostile ones is recorded


def test_a_server_sending_a_non_utf8_byte_is_recorded_and_audited(mitmdump, tmp_path, capsys):
    """End to end (issue 12): a server sends 0xFF in a cookie name, the recorder stores it, and the audit
    of that recording writes every format (it crashed with UnicodeEncodeError)."""
    rec = tmp_path / "site.jsonl"
    # http.server writes header text as Latin-1: "\xff" goes out as the byte 0xFF.
    with site(lambda path: ["lb\xffx=10.1.2.3:8080; Path=/", "BIGipServerweb=1677787402.36895.0000; Path=/"]) as backend:
        port = mitmdump.start("--mode", f"reverse:http://127.0.0.1:{backend}", "-s", "addons/recorder.py",
                              "--set", f"record_file={rec}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200
        mitmdump.stop()
    for fmt in ("json", "sarif", "table", "markdown", "html"):
        out = tmp_path / f"r.{fmt}"
        assert cli.main(["audit", str(rec), "--format", fmt, "-o", str(out)]) == 1
        assert "lb\\xffx" in out.read_bytes().decode("utf-8").replace("\\\\", "\\")
    capsys.readouterr()
