from stickyguard.audit.probe import tamper


def test_a_value_per_backend_names_it_and_a_value_per_session_does_not():
    assert tamper.names_backends({"b1": {"b1"}, "b2": {"b2"}})  # HAProxy: SERVERID=b1
    assert not tamper.names_backends({"b1": {"tokA", "tokB"}, "b2": {"tokC"}})  # sealed, per session
    assert not tamper.names_backends({"b1": {"x"}})  # one backend seen: nothing to choose


def test_a_changed_value_differs_in_one_character_of_the_same_kind():
    for value in ("b1", "1677787402.36895.0000", "abc", "_"):
        changed = tamper._flip(value)
        assert len(changed) == len(value) and sum(a != b for a, b in zip(value, changed, strict=True)) == 1
