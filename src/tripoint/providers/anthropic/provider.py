"""Anthropic over HTTP; only moves bytes, the codec translates."""

from __future__ import annotations

from tripoint.errors import UpstreamError
from tripoint.providers.anthropic import codec
from tripoint.providers.base import ChatStream
from tripoint.providers.streams import require_event_stream
from tripoint.providers.target import Target
from tripoint.providers.upstream import Upstream
from tripoint.schema.requests import ChatRequest

MESSAGES_PATH = "/v1/messages"


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, upstream: Upstream, *, max_tokens: int) -> None:
        self._upstream = upstream
        self._max_tokens = max_tokens

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    async def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        body = codec.to_wire(request, target.model, max_tokens=self._max_tokens)
        backend = self._upstream.name
        async with self._upstream.post(MESSAGES_PATH, body, stream=request.stream) as response:
            if response.status >= 400:
                raise codec.error_from_wire(
                    backend, response.status, await response.text(), response.headers
                )
            if not request.stream:
                yield codec.chunk_from_wire(await response.json())
                return
            require_event_stream(response, backend)
            decoder = codec.StreamDecoder(backend)
            async for event in response.events():
                for chunk in decoder.feed(event):
                    yield chunk
                if decoder.finished:
                    return
            raise UpstreamError(f"backend {backend!r} ended the stream before message_stop")
