from collections.abc import Sequence
from typing import Optional

import pytest

from stickyguard.addons.balancing import options
from stickyguard.addons.balancing.kinds import OPTIONS

# The typespecs mitmproxy's --set can parse (optmanager compares them literally).
PARSEABLE = (str, int, bool, Optional[str], Optional[int], Sequence[str])


def test_every_option_is_one_mitmproxy_can_parse_and_documents_itself():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    for o in OPTIONS:
        assert o.name.startswith("balance_") and o.typespec in PARSEABLE, o.name
        assert o.help and "\n" not in o.help and o.problem(o.default) is None, o.name


@pytest.mark.parametrize("name,value,problem", [
    ("balance_affinity", "magic", "balance_affinity must be one of cookie, app-cookie, ip, route, not 'magic'"),
    ("balance_policy", "random", "balance_policy must be one of p2c, round-robin, not 'random'"),
    ("balance_idle_timeout", 0, "balance_idle_timeout must be positive"),
    ("balance_ip_prefix", 33, "balance_ip_prefix must be 0-32"),
    ("balance_ip6_prefix", 129, "balance_ip6_prefix must be 0-128"),
    ("balance_ip6_prefix", 48, None),
])
def test_problems(name, value, problem):
    (option,) = [o for o in OPTIONS if o.name == name]
    assert option.problem(value) == problem


def test_launcher_flags():
    by_name = {o.name: o for o in OPTIONS}
    assert by_name["balance_backends"].launcher_flag == "--backend" and by_name["balance_backends"].repeated
    assert by_name["balance_ip6_prefix"].launcher_flag == "--ip6-prefix"
    assert by_name["balance_affinity"].full_help.endswith("One of: cookie, app-cookie, ip, route.")
    assert [o.name for o in OPTIONS if o.secret] == ["balance_secret"]
    assert options.between("x", 1, 2)(3) == "x must be 1-2" and options.positive("x")(1) is None
