from stickyguard.audit.probe import tamper


def test_a_value_per_backend_names_it_and_a_value_per_session_does_not():
    assert tamper.names_backends({"b1": {"b1"}, "b2": {"b2"}})  # HAProxy: SERVERID=b1
    assert not tamper.names_backends({"b1": {"tokA", "tokB"}, "b2": {"tokC"}})  # sealed, per session
    assert not tamper.names_backends({"b1": {"x"}})  # one backend seen: nothing to choose


def test_a_changed_value_differs_in_one_character_of_the_same_kind():
    for value in ("b1", "1677787402.36895.0000", "abc", "_"):
        changed = tamper._flip(value)
        assert len(changed) == len(value) and sum(a != b for a, b in zip(value, changed, strict=True)) == 1


def test_rewrites_follow_the_part_that_names_the_backend():
    haproxy_insert = {"b1": {"b1"}, "b2": {"b2"}}
    assert tamper.rewrite_to("b1", haproxy_insert, "b1", "b2") == "b2"
    prefix = {"b1": {"b1~a1f.x", "b1~c3d.x"}, "b2": {"b2~77e.x"}}  # HAProxy cookie ... prefix
    assert tamper.rewrite_to("b1~a1f.x", prefix, "b1", "b2") == "b2~a1f.x"
    jvm_route = {"b1": {"7D8A.node1", "0C4F.node1"}, "b2": {"99AA.node2"}}
    assert tamper.rewrite_to("7D8A.node1", jvm_route, "b1", "b2") == "7D8A.node2"
    sealed = {"b1": {"Qk9f1", "Zt08a"}, "b2": {"Lm2x0"}}
    assert tamper.rewrite_to("Qk9f1", sealed, "b1", "b2") is None
