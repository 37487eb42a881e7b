"""Cohere over HTTP; only moves bytes, the codec translates."""

from __future__ import annotations

from tripoint.errors import UpstreamError
from tripoint.providers.base import ChatStream
from tripoint.providers.cohere import codec
from tripoint.providers.streams import require_event_stream
from tripoint.providers.target import Target
from tripoint.providers.upstream import Upstream
from tripoint.schema.chunks import EmbeddingResult
from tripoint.schema.requests import ChatRequest, EmbeddingRequest

CHAT_PATH = "/v2/chat"
EMBED_PATH = "/v2/embed"


class CohereProvider:
    name = "cohere"

    def __init__(self, upstream: Upstream, *, embed_input_type: str) -> None:
        self._upstream = upstream
        self._input_type = embed_input_type

    async def start(self) -> None:
        await self._upstream.start()

    async def close(self) -> None:
        await self._upstream.close()

    async def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        body = codec.to_wire(request, target.model)
        backend = self._upstream.name
        async with self._upstream.post(CHAT_PATH, body, stream=request.stream) as response:
            if response.status >= 400:
                raise codec.error_from_wire(
                    backend, response.status, await response.text(), response.headers
                )
            if not request.stream:
                yield codec.chunk_from_wire(await response.json())
                return
            require_event_stream(response, backend)
            decoder = codec.StreamDecoder()
            async for event in response.events():
                for chunk in decoder.feed(event):
                    yield chunk
                if decoder.finished:
                    return
            raise UpstreamError(f"backend {backend!r} ended the stream before message-end")

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult:
        body = codec.embed_to_wire(request, target.model, input_type=self._input_type)
        async with self._upstream.post(EMBED_PATH, body) as response:
            if response.status >= 400:
                raise codec.error_from_wire(
                    self._upstream.name, response.status, await response.text(), response.headers
                )
            return codec.embedding_from_wire(
                await response.json(), encoding=request.encoding_format
            )
