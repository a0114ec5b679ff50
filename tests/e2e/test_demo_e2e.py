"""`stickyguard demo` end to end, as a user runs it: real backend processes, the balancer and the
recorder on one mitmproxy, shoppers, a backend killed and restarted, the audit and the report."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes: left out of `make check`

EXE = str(Path(sys.executable).with_name("stickyguard"))


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(c) for c in text}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def read_until(proc: subprocess.Popen, marker: str, seconds: float = 60) -> list[str]:
    lines, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never came; got:\n{''.join(lines)}")


@pytest.mark.parametrize("affinity", ["cookie", "app-cookie", "ip", "route"])
def test_the_demo_loses_no_request_and_writes_the_report(tmp_path, affinity):
    proc = subprocess.run([EXE, "demo", "--affinity", affinity, "--sessions", "12"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "lost requests: 0\n" in out
    assert "carts intact:  12 of 12 sessions" in out
    assert re.search(r"killed app2 \(SIGKILL to pid \d+\)", out) and "restarted app2" in out
    if affinity != "ip":  # ip hashing sends addresses home when app2 returns; the demo says so
        assert "stickiness:    100.0%" in out
    # The audit: this run's cookies and the other balancers' ones, with the report written.
    assert "127.0.0.1" in out and "shop.example" in out and "F5 BIG-IP LTM x2" in out
    report = tmp_path / "demo-report.html"
    assert f"The full compliance report: {report}" in out
    assert report.read_text().startswith("<!DOCTYPE html>")
    recording = (tmp_path / "demo-recording.jsonl").read_text().splitlines()
    assert len(recording) >= 12


def test_ctrl_c_mid_run_stops_everything_it_started(tmp_path):
    proc = subprocess.Popen([EXE, "demo", "--sessions", "30"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        read_until(proc, "wave 1")
        started = children(proc.pid)
        assert len(started) == 3  # the three backends
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; stopping everything it started" in out
    assert "Traceback" not in err
    assert not [pid for pid in started if alive(pid)]


def test_keep_running_serves_a_browser_until_ctrl_c(tmp_path):
    proc = subprocess.Popen([EXE, "demo", "--sessions", "6", "--keep-running"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = read_until(proc, "is still up", seconds=120)
        url = re.search(r"open (http://[\d.]+:\d+/) in a browser", lines[-1]).group(1)
        host, port = url[7:-1].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/", headers={"Accept": "text/html"})
        resp = conn.getresponse()
        page = resp.read().decode()
        conn.close()
        assert resp.status == 200 and "Served by <code>app" in page
        assert "sg_affinity=s1." in resp.getheader("Set-Cookie")
        started = children(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopping everything it started" in out and "Traceback" not in err
    assert not [pid for pid in started if alive(pid)]
    assert os.path.getsize(tmp_path / "demo-report.html") > 0
