"""The balancer's own HTTP/1.1 client, against scripted loopback servers that answer well, badly or not."""

import asyncio
import socket
import struct

import pytest

from stickyguard.addons.balancing import upstream

GET = b"GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n"
POST = b"POST /pay HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n\r\n"


def timeouts(response=2.0, read=2.0):
    return upstream.Timeouts(1.0, response, read)


def exchange(script, *requests, timeout=2.0, read=2.0, pause=0.0):
    """Run `script(reader, writer)` as a loopback server per connection; send each (head, body, method) in
    turn with one Upstream, `pause` seconds apart; returns (answers or exceptions, connections the server
    saw)."""
    seen = []

    async def main():
        async def accept(reader, writer):
            seen.append(writer)
            try:
                await script(reader, writer)
            except (OSError, asyncio.IncompleteReadError):
                pass

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = upstream.Upstream()
        out = []
        for i, (head, body, method) in enumerate(requests):
            if i:
                await asyncio.sleep(pause)
            try:
                out.append(await client.exchange(upstream.Target("127.0.0.1", port, False), head, body, method,
                                                 timeouts(timeout, read)))
            except (upstream.NoResponse, upstream.BrokenResponse) as e:
                out.append(e)
        client.close()
        server.close()
        return out

    return asyncio.run(main()), seen


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head, await reader.readexactly(length)


def answers(*responses):
    """A keep-alive server that answers each request on a connection with the next response."""
    async def script(reader, writer):
        for response in responses:
            await read_request(reader)
            writer.write(response)
            await writer.drain()
        await reader.read()
    return script


def test_content_length_responses_reuse_one_connection():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok"
    (first, second), seen = exchange(answers(ok, ok), (GET, b"", "GET"), (GET, b"", "GET"))
    assert (first.status, first.reason, first.body) == (200, b"OK", b"ok")
    assert first.headers == [(b"Content-Length", b"2"), (b"X-A", b"1")]
    assert first.peer[0] == "127.0.0.1" and second.body == b"ok"
    assert len(seen) == 1  # pooled


def test_chunked_body_with_trailers_and_an_interim_response():
    chunked = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n")
    (answer,), _ = exchange(answers(chunked), (GET, b"", "GET"))
    assert answer.status == 200 and answer.body == b"abcde" and answer.trailers == [(b"X-Sum", b"5")]


def test_a_body_read_until_close_is_not_pooled():
    until_close = b"HTTP/1.0 200 OK\r\n\r\nall of it"

    async def script(reader, writer):
        await read_request(reader)
        writer.write(until_close)
        writer.close()

    (first, second), seen = exchange(script, (GET, b"", "GET"), (GET, b"", "GET"))
    assert first.body == second.body == b"all of it" and len(seen) == 2


@pytest.mark.parametrize("status,method", [(204, "GET"), (304, "GET"), (200, "HEAD")])
def test_no_body_for_head_204_and_304(status, method):
    response = f"HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n".encode()
    (answer,), _ = exchange(answers(response), (GET, b"", method))
    assert answer.status == status and answer.body == b""


def test_a_refused_connection_was_not_sent_and_names_no_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused

    async def main():
        client = upstream.Upstream()
        with pytest.raises(upstream.NoResponse) as e:
            await client.exchange(upstream.Target("127.0.0.1", port, False), GET, b"", "GET", timeouts())
        return e.value

    failure = asyncio.run(main())
    assert failure.sent is False and failure.why == "connection refused" and str(port) not in failure.why


def test_closed_without_a_byte_is_an_empty_response_that_may_have_been_received():
    async def script(reader, writer):
        await read_request(reader)
        writer.close()

    (failure,), _ = exchange(script, (POST, b"1234", "POST"))
    assert isinstance(failure, upstream.NoResponse) and failure.sent and failure.why == "empty response"
    assert not upstream.may_retry("POST", failure) and upstream.may_retry("GET", failure)


def test_a_reset_is_a_failure_after_sending():
    async def script(reader, writer):
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
        writer.transport.abort()

    (failure,), _ = exchange(script, (POST, b"1234", "POST"))
    assert isinstance(failure, upstream.NoResponse) and failure.sent
    assert failure.why in ("connection reset by peer", "empty response")


def test_a_slow_backend_is_a_response_timeout():
    async def script(reader, writer):
        await read_request(reader)
        await asyncio.sleep(5)

    (failure,), _ = exchange(script, (GET, b"", "GET"), timeout=0.2)
    assert isinstance(failure, upstream.NoResponse) and failure.why == "response timeout" and failure.sent


@pytest.mark.parametrize("response,why", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed the connection in the middle"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "not an HTTP/1 response"),
])
def test_a_broken_response_is_not_a_missing_one(response, why):
    async def script(reader, writer):
        await read_request(reader)
        writer.write(response)
        await writer.drain()
        writer.close()

    (failure,), _ = exchange(script, (GET, b"", "GET"))
    assert isinstance(failure, upstream.BrokenResponse) and why in str(failure)


def test_an_answer_that_is_not_http_is_junk_and_may_be_retried_when_idempotent():
    async def script(reader, writer):
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    (failure,), _ = exchange(script, (GET, b"", "GET"))
    assert isinstance(failure, upstream.NoResponse) and failure.why == "not an HTTP response" and failure.sent


def test_a_backend_silent_in_the_middle_of_a_body_is_a_broken_response():
    async def script(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        await asyncio.sleep(5)

    (failure,), _ = exchange(script, (GET, b"", "GET"), read=0.2)
    assert isinstance(failure, upstream.BrokenResponse) and "went silent for 0.2 s" in str(failure)


def test_a_large_body_read_in_parts():
    body = bytes(range(256)) * 4096  # 1 MiB: read in parts, each resetting the silence timer
    response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    (answer,), _ = exchange(answers(response), (GET, b"", "GET"))
    assert answer.body == body


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def closes_idle(reader, writer):
    """Answers once, then closes the connection only when the next request arrives (the keep-alive race)."""
    await read_request(reader)
    writer.write(OK)
    await writer.drain()
    await reader.read(1)
    writer.close()


def test_an_idle_connection_the_backend_closed_is_replaced_for_an_idempotent_request():
    responses, seen = exchange(closes_idle, (GET, b"", "GET"), (GET, b"", "GET"))
    assert [r.body for r in responses] == [b"ok", b"ok"] and len(seen) == 2


def test_an_idle_connection_the_backend_closed_fails_a_post_without_sending_it_again():
    (first, second), seen = exchange(closes_idle, (GET, b"", "GET"), (POST, b"1234", "POST"))
    assert first.body == b"ok" and isinstance(second, upstream.NoResponse) and second.sent
    assert len(seen) == 1  # the POST was not sent again on a fresh connection


def test_a_connection_the_backend_already_closed_is_not_reused():
    async def script(reader, writer):
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        writer.close()  # keep-alive in theory, closed at once in practice

    # The FIN arrives while the connection is idle.
    (first, second), seen = exchange(script, (GET, b"", "GET"), (POST, b"1234", "POST"), pause=0.1)
    assert first.body == second.body == b"ok" and len(seen) == 2
