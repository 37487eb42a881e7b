"""The exchange shared by native SSE chat APIs (Anthropic Messages, Cohere v2 chat): one POST,
a whole answer or an event stream, each backend's codec doing the translating."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from tripoint.errors import UpstreamError
from tripoint.providers.base import ChatStream
from tripoint.providers.sse import ServerSentEvent
from tripoint.providers.upstream import Upstream, UpstreamResponse
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.json import JSON, JSONObject


class ChatCodec(Protocol):
    """What a backend's codec module provides for one exchange."""

    def chunk_from_wire(self, body: JSON, /) -> ChatChunk: ...

    def error_from_wire(
        self, backend: str, status: int, body: str, headers: Mapping[str, str], /
    ) -> UpstreamError: ...


class EventDecoder(Protocol):
    finished: bool  # the backend's end-of-answer event arrived

    def feed(self, event: ServerSentEvent) -> Iterable[ChatChunk]: ...


async def sse_chat(
    upstream: Upstream,
    path: str,
    wire: Callable[[], JSONObject],
    *,
    stream: bool,
    codec: ChatCodec,
    decoder: Callable[[], EventDecoder],
    end_event: str,
) -> ChatStream:
    """The answer's chunks. The request body is made when the stream starts, so a request the
    backend cannot express fails there, like every other upstream error, and sends nothing."""
    backend = upstream.name
    async with upstream.post(path, wire(), stream=stream) as response:
        if response.status >= 400:
            raise codec.error_from_wire(
                backend, response.status, await response.text(), response.headers
            )
        if not stream:
            yield codec.chunk_from_wire(await response.json())
            return
        require_event_stream(response, backend)
        events = decoder()
        async for event in response.events():
            for chunk in events.feed(event):
                yield chunk
            if events.finished:
                return
        raise UpstreamError(f"backend {backend!r} ended the stream before {end_event}")


def require_event_stream(response: UpstreamResponse, backend: str) -> None:
    """A stream request answered with anything but SSE (an HTML page from a proxy, a JSON
    body) would otherwise parse as an empty stream: a clean-looking answer with nothing in it."""
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith("text/event-stream"):
        raise UpstreamError(
            f"backend {backend!r} answered a stream request with {content_type or 'no type'}"
        )
