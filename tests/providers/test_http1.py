"""The lean HTTP/1.1 upstream client against a scripted loopback server speaking raw bytes."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from tripoint.config.schema import Timeouts
from tripoint.errors import UpstreamError, UpstreamTimeoutError
from tripoint.providers.auth import NoAuth
from tripoint.providers.http1 import ConnectError, Pool, TruncatedError, request_head
from tripoint.providers.upstream import Upstream

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a": true}'


class Scripted:
    """A loopback server: each request (head plus Content-Length body) gets the next reply."""

    def __init__(self, replies: list[bytes | Callable[[asyncio.StreamWriter], object]]) -> None:
        self.replies = replies
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                reply = self.replies.pop(0)
                if isinstance(reply, bytes):
                    writer.write(reply)
                    await writer.drain()
                else:
                    done = reply(writer)
                    if asyncio.iscoroutine(done):
                        await done
                    if writer.is_closing():
                        return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(script: Scripted) -> AsyncIterator[Scripted]:
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    script.port = server.sockets[0].getsockname()[1]
    async with server:
        yield script


def pool(script: Scripted, limit: int = 4) -> Pool:
    return Pool("http", "127.0.0.1", script.port, limit=limit, connect_timeout=1.0)


async def exchange(p: Pool, body: bytes = b"{}", *, idle: float = 5.0) -> tuple[int, bytes]:
    head = request_head("POST", "/v1/x", "127.0.0.1", {"Content-Type": "application/json"}, 2)
    response = await p.request(head, body, head_timeout=5.0, idle=idle, total=10.0)
    try:
        data = await response.read()
    except BaseException:
        response.close()
        raise
    response.release()
    return response.status, data


async def test_reuses_one_keep_alive_connection_for_consecutive_requests() -> None:
    async with serving(Scripted([OK, OK, OK])) as script:
        p = pool(script)
        answers = [await exchange(p) for _ in range(3)]
        p.close()
    assert answers == [(200, b'{"a": true}')] * 3
    assert script.connections == 1
    assert script.requests[0].startswith(b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert script.requests[0].endswith(b"Content-Length: 2\r\n\r\n{}")


async def test_reads_a_chunked_answer_piece_by_piece() -> None:
    async def chunked(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"6\r\n world\r\n0\r\n\r\n")

    async with serving(Scripted([chunked, OK])) as script:
        p = pool(script)
        head = request_head("POST", "/", "h", {}, 2)
        response = await p.request(head, b"{}", head_timeout=5, idle=5, total=10)
        pieces = [piece async for piece in response.chunks()]
        response.release()
        second = await exchange(p)
        p.close()
    assert pieces == [b"hello", b" world"]
    assert second == (200, b'{"a": true}')
    assert script.connections == 1  # the chunked answer ended cleanly: the connection was kept


async def test_a_connection_closed_mid_body_is_a_truncated_answer() -> None:
    def cut(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        writer.close()

    async with serving(Scripted([cut])) as script:
        p = pool(script)
        with pytest.raises(TruncatedError):
            await exchange(p)
        p.close()


async def test_a_body_delimited_by_the_end_of_the_connection_is_read_whole() -> None:
    def until_close(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        writer.close()

    async with serving(Scripted([until_close, OK])) as script:
        p = pool(script)
        first = await exchange(p)
        second = await exchange(p)
        p.close()
    assert first == (200, b"all of it")
    assert second == (200, b'{"a": true}')
    assert script.connections == 2  # that connection could not be used again


async def test_connection_close_in_the_answer_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    async with serving(Scripted([closing, OK])) as script:
        p = pool(script)
        await exchange(p)
        await exchange(p)
        p.close()
    assert script.connections == 2


async def test_silence_longer_than_idle_times_out() -> None:
    async def slow(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(1.0)

    async with serving(Scripted([slow])) as script:
        p = pool(script)
        with pytest.raises(TimeoutError):
            await exchange(p, idle=0.1)
        p.close()


async def test_a_refused_connection_is_a_connect_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    p = Pool("http", "127.0.0.1", port, limit=1, connect_timeout=1.0)
    with pytest.raises(ConnectError):
        await exchange(p)


async def test_a_gzip_answer_is_decoded() -> None:
    packed = gzip.compress(b'{"zipped": 1}')
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(packed)}\r\n\r\n"
    async with serving(Scripted([head.encode() + packed])) as script:
        p = pool(script)
        answer = await exchange(p)
        p.close()
    assert answer == (200, b'{"zipped": 1}')


async def test_at_most_limit_connections_are_open_at_once() -> None:
    async def late(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        writer.write(OK)

    async with serving(Scripted([late] * 6)) as script:
        p = pool(script, limit=2)
        answers = await asyncio.gather(*(exchange(p) for _ in range(6)))
        p.close()
    assert [status for status, _ in answers] == [200] * 6
    assert script.connections == 2


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    def answer_then_close(writer: asyncio.StreamWriter) -> None:
        writer.write(OK)  # keep-alive promised, then the server drops the idle connection
        writer.close()

    async with serving(Scripted([answer_then_close, OK])) as script:
        p = pool(script)
        await exchange(p)
        await asyncio.sleep(0.05)
        second = await exchange(p)
        p.close()
    assert second == (200, b'{"a": true}')
    assert script.connections == 2


async def test_upstream_maps_failures_and_splits_ndjson_lines() -> None:
    lines = b'{"n": 1}\n{"n"' + b': 2}\n\n{"n": 3}'
    ndjson = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(lines), lines)

    async def stall(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1.0)

    async with serving(Scripted([ndjson, stall])) as script:
        timeouts = Timeouts(first_byte=0.2)
        upstream = Upstream("b", f"http://127.0.0.1:{script.port}/v1", NoAuth(), timeouts)
        await upstream.start()
        async with upstream.post("/x", {"q": 1}) as response:
            got = [line async for line in response.lines()]
        with pytest.raises(UpstreamTimeoutError):
            async with upstream.post("/x", {"q": 2}):
                pass
        await upstream.close()
    gone = Upstream("b", f"http://127.0.0.1:{script.port}/v1", NoAuth(), timeouts)
    await gone.start()
    with pytest.raises(UpstreamError, match="unreachable"):
        async with gone.post("/x", {}):
            pass
    await gone.close()
    assert got == [b'{"n": 1}', b'{"n": 2}', b'{"n": 3}']
    assert script.requests[0].startswith(b"POST /v1/x HTTP/1.1\r\n")
