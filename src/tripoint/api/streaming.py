"""Server-sent events to the client: forwarded as they arrive, cancelled on disconnect.

A disconnect is watched for actively, so the upstream request is cancelled within moments
even while the upstream is silent. A failure after the stream started becomes an error event
and the stream ends without `[DONE]`: a truncated answer never looks like a clean finish.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable

import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from tripoint.api.disconnect import DisconnectWatch
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
        try:
            async with DisconnectWatch(receive):  # a disconnect cancels the stream
                await self._stream(send)
        finally:
            await self._rest.aclose()  # the upstream is closed, its usage settled

    async def _stream(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": SSE_HEADERS + self._extra_headers,
            }
        )
        render = self._render
        try:
            if (body := render(self._first)) is not None:
                await send(_more(_event(body)))
            async for chunk in self._rest:
                # the per-event hot path: one render, one send, no helper coroutines
                if (body := render(chunk)) is not None:
                    await send(_more(_event(body)))
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
        # the last event and the end of the body go out together: one write, not two
        await send({"type": "http.response.body", "body": tail, "more_body": False})


def _event(body: object) -> bytes:
    return b"data: %b\n\n" % orjson.dumps(body)


def _more(data: bytes) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": True}
