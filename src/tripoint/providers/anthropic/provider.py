"""Anthropic over HTTP; only moves bytes, the codec translates."""

from __future__ import annotations

from tripoint.providers.anthropic import codec
from tripoint.providers.base import ChatStream
from tripoint.providers.streams import sse_chat
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

    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        backend = self._upstream.name
        return sse_chat(
            self._upstream,
            MESSAGES_PATH,
            lambda: codec.to_wire(request, target.model, max_tokens=self._max_tokens),
            stream=request.stream,
            codec=codec,
            decoder=lambda: codec.StreamDecoder(backend),
            end_event="message_stop",
        )
