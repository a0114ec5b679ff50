"""The mitmproxy master the launcher and the demo run our addons in: the listen address, a master with
our addons added *before* any option is set (so a bad value is an error, not a proxy that silently
starts without the addon), and a run that stops cleanly on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

# The balancer picks the backend per request; mitmproxy's own reverse target is never connected to.
PLACEHOLDER_MODE = "reverse:http://127.0.0.1:1"


def listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen: not HOST:PORT: {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def proxy_master(host: str, port: int, mode: str, *addons):
    """A DumpMaster with our addons added before any option is set (so their options exist)."""
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    master = DumpMaster(options.Options(listen_host=host, listen_port=port, mode=[mode]),
                        with_termlog=True, with_dumper=False)
    master.addons.add(*addons)
    return master


async def serve(master, settings: dict, banner: str) -> int:
    """Apply the options (a refused value is exit 2, before anything listens), then run until a signal."""
    from mitmproxy import exceptions

    try:
        master.options.update(**settings)
    except exceptions.OptionsError as e:
        print(f"stickyguard: error: {e}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    quiet_cancellations(loop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    print(banner, file=sys.stderr)
    await master.run()
    return 0


def quiet_cancellations(loop: asyncio.AbstractEventLoop) -> None:
    """Connections still open at shutdown end cancelled; that is the stop the user asked for, not an error."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if not isinstance(context.get("exception"), asyncio.CancelledError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
