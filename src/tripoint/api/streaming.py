"""Server-sent events to the client: forwarded as they arrive, cancelled on disconnect.

A disconnect is watched for actively, so the upstream request is cancelled within moments
even while the upstream is silent. A failure after the stream started becomes an error event
and the stream ends without `[DONE]`: a truncated answer never looks like a clean finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable

import anyio
import anyio.abc
import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from tripoint.api.errors import error_json
from tripoint.errors import TripointError
from tripoint.schema.chunks import Chunk
from tripoint.schema.json import JSONObject

log = logging.getLogger("tripoint.api")

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]

Renderer = Callable[[Chunk], JSONObject | None]
_HIGH_WATER = 64 * 1024  # queued event bytes before the stream waits for the client


class EventStreamResponse(Response):
    def __init__(
        self,
        first: Chunk,
        rest: AsyncGenerator[Chunk, None],
        render: Renderer,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")
        self._first = first
        self._rest = rest
        self._render = render
        self._extra_headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch_disconnect)
            try:
                await self._stream(send, group)
            finally:
                group.cancel_scope.cancel()
                await self._rest.aclose()

    async def _stream(self, send: Send, group: anyio.abc.TaskGroup) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": SSE_HEADERS + self._extra_headers,
            }
        )
        out = _Writer(send)
        group.start_soon(out.run)
        render = self._render
        try:
            if (body := render(self._first)) is not None:
                out.add(_event(body))
            async for chunk in self._rest:
                # the per-event hot path: one render, handed to the writer; no await unless
                # the client reads slower than the upstream writes
                if (body := render(chunk)) is not None and out.add(_event(body)):
                    await out.drained()
        except OSError:
            return  # the client is gone; the task group's cleanup closes the upstream
        except TripointError as exc:
            tail = _event(error_json(exc))
        except Exception as exc:
            log.exception("stream failed", exc_info=exc)
            failure = TripointError("The server had an error while streaming the response.")
            tail = _event(error_json(failure))
        else:
            tail = DONE
        await out.finish(tail)


class _Writer:
    """Sends the events a stream produced, as one write per wake-up of the stream's task.

    The stream's task renders events and hands them here without awaiting; this writer runs
    when that task next waits (for the upstream, mostly), so the events decoded from one
    upstream read go to the client in one write, not one each. The last events and the end
    of the body go out together.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: list[bytes] = []
        self._size = 0
        self._wake: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._tail: bytes | None = None
        self._failure: BaseException | None = None
        self._done = asyncio.Event()

    def add(self, event: bytes) -> bool:
        """Queue an event; True when enough is queued that the producer should wait."""
        if self._failure is not None:
            raise self._failure
        self._pending.append(event)
        self._size += len(event)
        self._wakeup()
        return self._size > _HIGH_WATER

    async def drained(self) -> None:
        """Until the queue is written out (the client reads slower than the upstream)."""
        while self._pending and self._failure is None:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained
        if self._failure is not None:
            raise self._failure

    async def finish(self, tail: bytes) -> None:
        """Queue the last event and end the body; returns once all is written."""
        self._tail = tail
        self._wakeup()
        await self._done.wait()
        if self._failure is not None:
            raise self._failure

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                pending = self._pending
                if not pending and self._tail is None:
                    self._wake = loop.create_future()
                    await self._wake
                    continue
                data = pending[0] if len(pending) == 1 else b"".join(pending)
                self._pending = []
                self._size = 0
                if self._drained is not None:
                    self._drained.set_result(None)
                    self._drained = None
                if self._tail is not None:
                    await self._send(_body(data + self._tail, more=False))
                    return
                await self._send(_body(data, more=True))
        except Exception as exc:  # noqa: BLE001 -- handed to the stream, which raises it
            self._failure = exc
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)
        finally:
            self._done.set()

    def _wakeup(self) -> None:
        wake = self._wake
        if wake is not None:
            self._wake = None
            if not wake.done():
                wake.set_result(None)


def _event(body: object) -> bytes:
    return b"data: %b\n\n" % orjson.dumps(body)


def _body(data: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}
