import pytest
from stickyguard.addons import launch


def test_audit_commands_are_handed_to_the_audit_cli(capsys):
    assert launch.main(["rules", "validate"]) == 0
    assert "every rule example behaves" in capsys.readouterr().out


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


def balance_args(*extra):
    return launch.build_balance_parser().parse_args(
        ["--backend", "app1=http://127.0.0.1:8081", "--backend", "app2=http://127.0.0.1:8082", *extra])


def test_equivalent_mitmdump_command():
    args = balance_args("--affinity", "ip", "--ip-prefix", "24", "--health", "")
    command = launch.mitmdump_command(("127.0.0.1", 8080), launch.balance_settings(args))
    assert command.startswith("mitmdump -s addons/balancer.py --mode reverse:http://127.0.0.1:1 "
                              "--listen-host 127.0.0.1 --listen-port 8080 --set connection_strategy=lazy")
    assert "--set balance_backends=app1=http://127.0.0.1:8081 --set balance_backends=app2=http://127.0.0.1:8082" in command
    assert "--set balance_ip_prefix=24" in command and "balance_health" not in command


@pytest.mark.parametrize("args,message", [
    (["--affinity", "magic"], "balance_affinity must be one of"),
    (["--backend", "broken"], "balance_backends: expected NAME=URL"),
])
def test_bad_balance_options_exit_2(tmp_path, capsys, args, message):
    status = launch.main(["balance", "--backend", "a=http://127.0.0.1:1", "--health", "",
                          "--secret-file", str(tmp_path / "s"), "--confdir", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_top_level_help_lists_every_command(capsys):
    from stickyguard.addons import launch

    assert launch.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n  {c} " in out for c in ("demo", "balance", "record", "audit", "rules"))
    assert launch.main([]) == 2
    assert capsys.readouterr().err.startswith("usage: stickyguard COMMAND")
