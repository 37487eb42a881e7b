"""A lean HTTP/1.1 client for upstream calls: pooled keep-alive connections parsed by httptools.

It does what the data plane needs and no more (one request at a time per connection, bodies
already in memory, Content-Length or chunked answers), at a fraction of a general client's
per-request cost: one write per request, no per-request timer objects beyond one timer handle
per wait, no cookie, redirect or proxy machinery. Failures are this module's own exceptions;
`upstream.py` maps them to `UpstreamError` at the boundary.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

_HIGH_WATER = 256 * 1024  # buffered body bytes before the socket stops being read


class ConnectError(Exception):
    """No connection could be made (refused, unresolvable, TLS handshake failed)."""


class UntrustedCertificateError(ConnectError):
    """The upstream's TLS certificate did not verify against the trusted CAs."""


class TruncatedError(Exception):
    """The connection closed before the answer was complete."""


class ProtocolError(Exception):
    """The upstream broke HTTP/1.1, or the connection failed after the request was sent."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: the transport, the parser, and the answer being read."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        # one lazily re-armed timer per connection, not one per wait: a stream waits once
        # per event, and its deadline only moves later
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.raw_headers: list[tuple[str, str]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.body: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self.error: Exception | None = None

    # asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = ProtocolError(f"invalid HTTP/1.1 from upstream: {exc}")
            self.close()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and self.error is None:
            if self.head_done and self._until_close():
                self.complete = True  # a body delimited by the end of the connection
            elif self.head_done:
                self.error = TruncatedError("the connection closed in the middle of the answer")
            else:
                reason = type(exc).__name__ if exc is not None else "closed"
                self.error = ProtocolError(f"the connection closed before an answer ({reason})")
        self._wake()

    # httptools callbacks ----------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        self.complete = True

    # used by the response ---------------------------------------------------------------------
    def take(self) -> bytes:
        """Everything buffered so far, in one piece."""
        body = self.body
        data = body.popleft() if len(body) == 1 else b"".join(body)
        body.clear()
        self._buffered = 0
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def wait(self, deadline: float) -> None:
        """Until something arrives (or the connection ends); TimeoutError at `deadline`."""
        waiter = self._waiter = self._loop.create_future()
        self._deadline = deadline
        if self._timer is None or self._timer_at > deadline:
            self._arm(deadline)
        try:
            await waiter
        finally:
            self._waiter = None

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(at, self._on_timer)
        self._timer_at = at

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # nobody waits (an idle pooled connection): re-armed by the next wait
        if self._loop.time() >= self._deadline:
            waiter.set_exception(TimeoutError())
        else:
            self._arm(self._deadline)  # the deadline moved on since the timer was set

    async def head(self, idle: float, deadline: float) -> None:
        """Until the answer's head has arrived."""
        while not self.head_done:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise ProtocolError("the connection closed before an answer")
            await self.wait(min(self._loop.time() + idle, deadline))

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _until_close(self) -> bool:
        names = {name.lower() for name, _ in self.raw_headers}
        return "content-length" not in names and "transfer-encoding" not in names

    def start(self, request: bytes) -> None:
        self._reset()
        assert self.transport is not None  # noqa: S101 -- connected before use
        self.transport.write(request)


class Response:
    """An answer whose head has arrived; its body is read from the connection on demand."""

    __slots__ = ("_conn", "_deadline", "_decoder", "_idle", "_pool", "headers", "status")

    def __init__(self, pool: Pool, conn: _Connection, *, idle: float, deadline: float) -> None:
        self._pool = pool
        self._conn = conn
        self._idle = idle
        self._deadline = deadline  # the whole exchange's
        self.status = conn.status
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(conn.raw_headers))
        encoding = self.headers.get("Content-Encoding", "").lower()
        # nothing asks for compression; an upstream that compresses anyway is still understood
        self._decoder = (
            zlib.decompressobj(wbits=zlib.MAX_WBITS | 32 if encoding == "gzip" else zlib.MAX_WBITS)
            if encoding in ("gzip", "deflate")
            else None
        )

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives: all that is buffered at each step, in one piece."""
        while (data := await self.read_some()) is not None:
            yield data

    async def read_some(self) -> bytes | None:
        """The next bytes of the body (waiting for them); None at its end."""
        conn = self._conn
        while True:
            if conn.body:
                data = conn.take()
                if self._decoder is not None:
                    data = self._decoder.decompress(data)
                    if not data:
                        continue
                return data
            if conn.error is not None:
                raise conn.error
            if conn.complete:
                if self._decoder is not None and (tail := self._decoder.flush()):
                    return tail
                return None
            await conn.wait(min(self._loop_time() + self._idle, self._deadline))

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body, or its first `limit` bytes."""
        parts: list[bytes] = []
        size = 0
        while (data := await self.read_some()) is not None:
            parts.append(data)
            size += len(data)
            if limit is not None and size >= limit:
                return b"".join(parts)[:limit]
        return b"".join(parts)

    def release(self) -> None:
        """Give the connection back when the answer was read whole; otherwise close it."""
        conn = self._conn
        if conn.complete and conn.keep_alive and not conn.closed and not conn.body:
            self._pool.put(conn)
        else:
            self._pool.discard(conn)

    def close(self) -> None:
        self._pool.discard(self._conn)

    def _loop_time(self) -> float:
        return self._pool.loop.time()


class Pool:
    """Keep-alive connections to one origin, at most `limit` open at a time."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        limit: int,
        connect_timeout: float,
        keepalive: float = 4.0,
    ) -> None:
        self.host = host
        self.port = port
        self._tls = ssl.create_default_context() if scheme == "https" else None
        if self._tls is not None:
            self._tls.set_alpn_protocols(["http/1.1"])
        self._connect_timeout = connect_timeout
        # idle connections are dropped before common servers' keep-alive (uvicorn: 5 s)
        # closes them, so a request rarely meets a stale connection it cannot retry
        self._keepalive = keepalive
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(limit)
        self._open: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def request(
        self, head: bytes, body: bytes, *, head_timeout: float, idle: float, total: float
    ) -> Response:
        """Send one request and wait for the answer's head.

        `head_timeout` bounds the time to the head, `idle` every silence, `total` the whole
        exchange (body included, read later through the response).
        """
        loop = self.loop
        now = loop.time()
        deadline = now + total
        head_deadline = min(now + head_timeout, deadline)
        await self._slots.acquire()
        try:
            conn = self._reuse() or await self._connect(head_deadline)
        except BaseException:
            self._slots.release()
            raise
        try:
            conn.start(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                assert conn.transport is not None  # noqa: S101 -- connected
                conn.transport.write(body)
            await conn.head(idle, head_deadline)
        except BaseException:
            self.discard(conn)
            raise
        return Response(self, conn, idle=idle, deadline=deadline)

    def put(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        self._slots.release()

    def discard(self, conn: _Connection) -> None:
        conn.close()
        if conn in self._open:
            self._open.discard(conn)
            self._slots.release()

    def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()

    def _reuse(self) -> _Connection | None:
        """The most recently used idle connection still open and fresh; stale ones close."""
        idle = self._idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._keepalive:
                return conn
            self._open.discard(conn)
            conn.close()
        return None

    async def _connect(self, deadline: float) -> _Connection:
        loop = self.loop
        timeout = max(0.0, min(self._connect_timeout, deadline - loop.time()))
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    self.host,
                    self.port,
                    ssl=self._tls,
                    server_hostname=self.host if self._tls is not None else None,
                )
        except ssl.SSLCertVerificationError as exc:
            raise UntrustedCertificateError(exc.verify_message or str(exc)) from exc
        except OSError as exc:  # refused, unresolvable, unreachable, other TLS failures
            raise ConnectError(f"{type(exc).__name__}: {exc}") from exc
        self._open.add(conn)
        return conn


def request_head(
    method: str, target: str, host: str, headers: Mapping[str, str], length: int
) -> bytes:
    """The request line and headers, ready to write."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
