"""Client connections between two requests, each with a deadline for its next request's headers.

mitmproxy closes a client connection only after 10 minutes without a byte, so a client that sends
half a request, or trickles it a byte at a time (slowloris), holds its connection as long as it likes.
The balancer closes a connection that has not delivered a request's headers within the timeout,
counted from the connection or from its previous response (NGINX's client_header_timeout and
keepalive_timeout, HAProxy's timeout http-request and http-keep-alive), and keeps at most `limit`
connections waiting: past that the longest-waiting goes first. A connection answering a request, or
upgraded to a WebSocket, has no deadline. Plain logic, no mitmproxy.
"""

from __future__ import annotations

from collections import OrderedDict


class Waiting:
    def __init__(self, timeout: float, limit: int):
        self.timeout = timeout
        self.limit = limit
        self._since: OrderedDict[str, float] = OrderedDict()  # connection id -> waiting since, oldest first
        self._busy: dict[str, int] = {}  # connection id -> requests it has open

    def __len__(self) -> int:
        return len(self._since)

    def connected(self, cid: str, now: float) -> list[str]:
        """A new connection waits for its first request; returns the connections to close to stay in limit."""
        self._since[cid] = now
        over = []
        while len(self._since) > self.limit:
            oldest, _ = self._since.popitem(last=False)
            over.append(oldest)
        return over

    def started(self, cid: str) -> None:
        """A request's headers arrived: no deadline while it is answered."""
        self._since.pop(cid, None)
        self._busy[cid] = self._busy.get(cid, 0) + 1

    def finished(self, cid: str, now: float) -> None:
        """A response went out; with nothing else open, the next request's deadline starts now."""
        busy = self._busy.get(cid, 0) - 1
        if busy > 0:
            self._busy[cid] = busy
            return
        self._busy.pop(cid, None)
        self._since[cid] = now
        self._since.move_to_end(cid)

    def gone(self, cid: str) -> None:
        self._since.pop(cid, None)
        self._busy.pop(cid, None)

    def overdue(self, now: float) -> list[str]:
        """The connections whose deadline has passed, no longer tracked."""
        out = []
        while self._since:
            cid, since = next(iter(self._since.items()))
            if since + self.timeout > now:
                break
            self._since.popitem(last=False)
            out.append(cid)
        return out
