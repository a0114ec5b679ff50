import pytest

from stickyguard.addons import launch


def test_audit_commands_are_handed_to_the_audit_cli(capsys):
    assert launch.main(["rules", "validate"]) == 0
    assert "every rule example behaves" in capsys.readouterr().out


def test_yes_no_options_are_a_flag_pair():
    settings = launch.balance_settings(balance_args("--no-forwarded", "--strip-cookie"))
    assert (settings["balance_forwarded"], settings["balance_strip_cookie"]) == (False, True)
    assert "balance_forwarded" not in launch.balance_settings(balance_args())   # mitmproxy's default holds
    assert "--set balance_forwarded=false" in launch.mitmdump_command(("127.0.0.1", 8080), settings)


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
    assert "--set balance_ip_prefix=24" in command and "--set balance_health= " in command   # turned off
    assert "balance_policy" not in command   # only what was given


def test_every_balancer_option_is_a_flag_of_stickyguard_balance():
    from stickyguard.addons.balancing.kinds import OPTIONS

    parser = launch.build_balance_parser()
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}
    assert {o.name for o in OPTIONS} <= set(flags)
    help_text = parser.format_help()
    for option in OPTIONS:
        assert option.launcher_flag in help_text and all(c in help_text for c in option.choices)
    assert "redis://HOST:PORT/DB" in help_text
    args = balance_args("--secret", "0123456789abcdef0123456789abcdef", "--ip6-prefix", "48", "--idle-timeout", "60",
                        "--absolute-timeout", "600")
    settings = launch.balance_settings(args)
    assert (settings["balance_ip6_prefix"], settings["balance_idle_timeout"], settings["balance_absolute_timeout"]) == (
        48, 60, 600)
    command = launch.mitmdump_command(("127.0.0.1", 8080), settings)
    assert "0123456789abcdef" not in command and "balance_secret" not in command  # never echoed


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


@pytest.mark.parametrize("flag,message", [
    ("--cookie-name", "balance_cookie_name must be a cookie name, not ''"),
    ("--app-cookie", "balance_app_cookie must be a cookie name, not ''"),
    ("--affinity", "balance_affinity must be one of"),
    ("--policy", "balance_policy must be one of"),
])
def test_an_empty_flag_is_a_one_line_error(tmp_path, capsys, flag, message):
    """Found in review: an empty value became None and mitmproxy raised a TypeError traceback."""
    status = launch.main(["balance", "--backend", "a=http://127.0.0.1:1", "--health", "",
                          "--secret-file", str(tmp_path / "s"), "--confdir", str(tmp_path), flag, ""])
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_store_password_never_reaches_the_banner():
    settings = launch.balance_settings(balance_args("--affinity", "app-cookie", "--store", "redis://:s3cret@cache:6379/0"))
    command = launch.mitmdump_command(("127.0.0.1", 8080), settings)
    assert "s3cret" not in command and "redis://:***@cache:6379/0" in command
