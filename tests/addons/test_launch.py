import pytest

from addons import launch


def test_audit_commands_are_handed_to_the_audit_cli(capsys):
    assert launch.main(["rules", "validate"]) == 0
    assert "every rule example behaves" in capsys.readouterr().out


def test_no_command_is_a_usage_error():
    with pytest.raises(SystemExit) as e:
        launch.main([])
    assert e.value.code == 2


@pytest.mark.parametrize("text,expected", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:8080", ("::1", 8080)), (":9000", ("127.0.0.1", 9000)),
])
def test_listen_address(text, expected):
    assert launch.listen_address(text) == expected


@pytest.mark.parametrize("args,message", [
    (["--listen", "localhost"], "--listen: not HOST:PORT: 'localhost'"),
    (["--listen", "127.0.0.1:99999"], "--listen: not HOST:PORT"),
    (["--filter", "~bogus"], "Cannot parse record_filter"),
])
def test_bad_record_options_exit_2_with_one_line(tmp_path, capsys, args, message):
    status = launch.main(["record", "-o", str(tmp_path / "r.jsonl"), "--confdir", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_record_needs_an_output():
    with pytest.raises(SystemExit) as e:
        launch.main(["record"])
    assert e.value.code == 2
