"""Cohere over HTTP; only moves bytes, the codec translates."""

from __future__ import annotations

from tripoint.providers.base import ChatStream
from tripoint.providers.cohere import codec
from tripoint.providers.streams import sse_chat
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

    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        return sse_chat(
            self._upstream,
            CHAT_PATH,
            lambda: codec.to_wire(request, target.model),
            stream=request.stream,
            codec=codec,
            decoder=codec.StreamDecoder,
            end_event="message-end",
        )

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
