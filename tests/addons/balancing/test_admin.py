import asyncio
import json
import os
import stat

import pytest

from stickyguard.addons.balancing import admin


class FakeControls:
    def __init__(self):
        self.drained, self.weights, self.reloads = [], {}, 0

    def snapshot(self):
        return {"kind": "cookie", "backends": [{"name": "app1", "address": "http://10.0.0.1:80", "up": True,
                "draining": "app1" in self.drained, "weight": self.weights.get("app1", 1), "sessions": 1,
                "requests": 2, "in_flight": 0, "moved_in": 0, "moved_out": 0, "transitions": {}}],
                "counts": {"new": 1}, "rejected": {}, "retries": {}, "not_retried": {}, "clients_waiting": 0, "clients_closed": {}, "spread": {"max_mean": 1.0, "jain": 1.0}}

    def metrics(self):
        return b"# metrics\n"

    def drain(self, name):
        if name != "app1":
            raise LookupError(f"no backend named {name!r}")
        self.drained.append(name)

    def undrain(self, name):
        self.drained.remove(name)

    def reload(self):
        self.reloads += 1

    def set_weight(self, name, weight):
        self.weights[name] = weight


@pytest.mark.parametrize("text,expected", [
    ("unix:/tmp/sg.sock", admin.Address("unix", "/tmp/sg.sock", "", 0)),
    ("/run/sg/admin.sock", admin.Address("unix", "/run/sg/admin.sock", "", 0)),
    ("127.0.0.1:9901", admin.Address("tcp", "", "127.0.0.1", 9901)),
    ("[::1]:9901", admin.Address("tcp", "", "::1", 9901)),
])
def test_parse_address(text, expected):
    assert admin.parse_address(text) == expected


@pytest.mark.parametrize("text,message", [
    ("0.0.0.0:9901", "loopback only"), ("10.0.0.5:9901", "loopback only"), ("127.0.0.1", "expected unix:PATH"),
    ("unix:", "socket path"), ("127.0.0.1:99999", "expected unix:PATH"),
])
def test_parse_address_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        admin.parse_address(text)


def test_token_file_is_created_owner_only_and_refused_when_others_can_read(tmp_path):
    path = tmp_path / "conf" / "admin-token"
    token = admin.load_or_create_token(path)
    assert len(token) >= 32 and admin.load_or_create_token(path) == token
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    path.chmod(0o644)
    with pytest.raises(ValueError, match="other users"):
        admin.load_or_create_token(path)


async def _ask(server, method, target, token=None, unix=None):
    if unix:
        reader, writer = await asyncio.open_unix_connection(unix)
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_tcp_api_wants_its_token_and_acts():
    controls = FakeControls()

    async def go():
        server = admin.AdminServer(controls, admin.Address("tcp", "", "127.0.0.1", 0), "t" * 20)
        await server.start()
        try:
            results = [await _ask(server, "GET", "/status"),
                       await _ask(server, "GET", "/status", token="wrong-token-value"),
                       await _ask(server, "GET", "/status", token="t" * 20),
                       await _ask(server, "POST", "/backends/app1/drain", token="t" * 20),
                       await _ask(server, "POST", "/backends/nope/drain", token="t" * 20),
                       await _ask(server, "POST", "/backends/app1/weight?value=0", token="t" * 20),
                       await _ask(server, "POST", "/backends/app1/weight?value=3", token="t" * 20),
                       await _ask(server, "POST", "/reload", token="t" * 20),
                       await _ask(server, "GET", f"/?token={'t' * 20}"),
                       await _ask(server, "GET", "/metrics", token="t" * 20),
                       await _ask(server, "DELETE", "/status", token="t" * 20)]
        finally:
            server.close()
        return results
    results = asyncio.run(go())
    assert [status for status, _ in results] == [401, 401, 200, 200, 404, 400, 200, 200, 200, 200, 405]
    assert json.loads(results[3][1])["status"]["backends"][0]["draining"] is True
    assert "no backend named 'nope'" in json.loads(results[4][1])["error"]
    assert controls.weights == {"app1": 3} and controls.reloads == 1
    assert b"<table>" in results[8][1] and results[9][1] == b"# metrics\n"


def test_the_unix_socket_is_owner_only_and_needs_no_token(tmp_path):
    path = tmp_path / "run" / "admin.sock"

    async def go():
        server = admin.AdminServer(FakeControls(), admin.Address("unix", str(path), "", 0), None)
        await server.start()
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            status, _ = await _ask(server, "GET", "/status", unix=str(path))
            with pytest.raises(OSError, match="another balancer"):
                await admin.AdminServer(FakeControls(), admin.Address("unix", str(path), "", 0), None).start()
        finally:
            server.close()
        return mode, status
    assert asyncio.run(go()) == (0o600, 200)
    assert not path.exists()
