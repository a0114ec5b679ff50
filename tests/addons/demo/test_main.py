import argparse
import os

import pytest

from stickyguard.addons import launch
from stickyguard.addons.demo import main as demo


def args(**kw):
    return argparse.Namespace(**({"affinity": "cookie", "recording": "r.jsonl"} | kw))


def test_settings_per_affinity_kind():
    ports = {"app1": 1001, "app2": 1002, "app3": 1003}
    cookie = demo.demo_settings(args(), ports)
    assert cookie["balance_backends"] == ["app1=http://127.0.0.1:1001", "app2=http://127.0.0.1:1002",
                                          "app3=http://127.0.0.1:1003"]
    assert cookie["balance_affinity"] == "cookie" and cookie["record_file"] == "r.jsonl"
    assert len(cookie["balance_secret"]) >= 40 and cookie["balance_secret"] != demo.demo_settings(args(), ports)[
        "balance_secret"]  # a new secret each run
    assert cookie["balance_health"].startswith("http:/health,")
    route = demo.demo_settings(args(affinity="route"), ports)
    assert route["balance_backends"][1] == "app2=http://127.0.0.1:1002,route=app2"
    ip = demo.demo_settings(args(affinity="ip"), ports)
    assert ip["balance_trusted_proxies"] == ["127.0.0.1/32", "::1/128"]
    assert "balance_trusted_proxies" not in cookie


@pytest.mark.parametrize("argv,message", [
    (["--sessions", "1"], "stickyguard demo: error: --sessions must be 3-750"),
    (["--listen", "nowhere"], "stickyguard demo: error: --listen: not HOST:PORT: 'nowhere'"),
    (["--report", "/nonexistent/r.html"],
     "stickyguard demo: error: --report: cannot write /nonexistent/r.html: /nonexistent is not a writable folder"),
    (["--recording", "/nonexistent/r.jsonl"],
     "stickyguard demo: error: --recording: cannot write /nonexistent/r.jsonl: /nonexistent is not a writable folder"),
])
def test_bad_options_are_one_line_errors(argv, message, capsys):
    assert launch.main(["demo", *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_an_unknown_affinity_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as e:
        launch.main(["demo", "--affinity", "magic"])
    assert e.value.code == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err


def test_shop_processes_start_die_come_back_and_stop():
    shops = demo.ShopProcesses()
    try:
        shops.start("app1")
        port = shops.ports["app1"]
        pid = shops.kill("app1")
        assert "app1" not in shops.procs
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        shops.start("app1")
        assert shops.ports["app1"] == port  # back on the same port
        proc = shops.procs["app1"]
    finally:
        shops.stop_all()
    assert proc.returncode == 0  # SIGTERM ends it quietly
    assert shops.procs == {}


def test_progress_is_silent_without_a_terminal(capsys):
    bar = demo.Progress(10)
    bar.show(5, "x")
    bar.clear()
    assert capsys.readouterr().err == ""


def test_progress_draws_a_bar_on_a_terminal(capsys):
    bar = demo.Progress(10)
    bar.on = True  # as when stderr is a terminal
    bar.show(5, "round 2/12")
    assert capsys.readouterr().err == "\r  [###############               ]    5/10 requests round 2/12" + " " * 18


def test_a_listen_address_in_use_is_refused_before_anything_starts(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert launch.main(["demo", "--listen", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"stickyguard demo: error: --listen: cannot listen on 127.0.0.1:{port}: ")
