import asyncio

import pytest

from stickyguard.addons import master


@pytest.mark.parametrize("text,expected", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:8080", ("::1", 8080)), (":9000", ("127.0.0.1", 9000)),
])
def test_listen_address(text, expected):
    assert master.listen_address(text) == expected


@pytest.mark.parametrize("text", ["localhost", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http"])
def test_listen_address_refuses(text):
    with pytest.raises(ValueError, match="--listen: not HOST:PORT"):
        master.listen_address(text)


def test_a_bad_option_value_is_exit_2_before_anything_listens(capsys):
    from stickyguard.addons.recorder import Recorder

    async def go():
        m = master.proxy_master("127.0.0.1", 0, "regular", Recorder())
        return await master.serve(m, {"record_values": "sometimes"}, "never printed")

    assert asyncio.run(go()) == 2
    err = capsys.readouterr().err
    assert err.startswith("stickyguard: error: ") and "never printed" not in err
