import asyncio
import json
import threading

import pytest

from stickyguard.addons import ctl
from stickyguard.addons.balancing import admin
from tests.addons.balancing.test_admin import FakeControls


@pytest.fixture
def api(tmp_path):
    """A runtime API on a Unix socket, served from a thread of its own as a balancer would."""
    path = tmp_path / "admin.sock"
    loop = asyncio.new_event_loop()
    controls = FakeControls()
    server = admin.AdminServer(controls, admin.Address("unix", str(path), "", 0), None)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"unix:{path}", controls
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def test_status_as_a_table_and_as_json(api, capsys):
    where, _ = api
    assert ctl.main(["--admin", where, "status"]) == 0
    out = capsys.readouterr().out
    assert "app1" in out and "up" in out and "decisions: new 1" in out
    assert ctl.main(["--admin", where, "--json", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["backends"][0]["name"] == "app1"


def test_drain_set_weight_reload_and_a_clear_error(api, capsys):
    where, controls = api
    assert ctl.main(["--admin", where, "drain", "app1"]) == 0
    assert "draining" in capsys.readouterr().out and controls.drained == ["app1"]
    assert ctl.main(["--admin", where, "set-weight", "app1", "4"]) == 0 and controls.weights == {"app1": 4}
    assert ctl.main(["--admin", where, "reload"]) == 0 and controls.reloads == 1
    capsys.readouterr()
    assert ctl.main(["--admin", where, "drain", "nope"]) == 1
    assert "the balancer said 404: no backend named 'nope'" in capsys.readouterr().err


def test_nothing_listening_and_no_address_are_one_line_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(ctl.ADMIN_ENV, raising=False)
    assert ctl.main(["--admin", f"unix:{tmp_path / 'none.sock'}", "status"]) == 1
    assert "no balancer answered" in capsys.readouterr().err
    assert ctl.main(["status"]) == 2
    assert "give --admin" in capsys.readouterr().err
    assert ctl.main(["--admin", "10.0.0.1:80", "status"]) == 2
    assert "loopback only" in capsys.readouterr().err


def test_metrics_prints_the_prometheus_text(api, capsys):
    where, _ = api
    assert ctl.main(["--admin", where, "metrics"]) == 0
    assert capsys.readouterr().out == FakeControls().metrics().decode()
