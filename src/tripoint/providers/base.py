"""The provider contract: one small interface per capability."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol, runtime_checkable

from tripoint.providers.target import Target
from tripoint.schema.chunks import ChatChunk, EmbeddingResult
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest

ChatStream = AsyncGenerator[ChatChunk, None]


@runtime_checkable
class Lifecycle(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class Readiness(Protocol):
    """A provider that may not be able to serve yet (local models loading); `/readyz` asks."""

    async def ready(self) -> bool: ...


@runtime_checkable
class ChatProvider(Protocol):
    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        """Stream chunks; a non-streaming request yields one chunk with the whole answer."""
        ...


@runtime_checkable
class CompletionProvider(Protocol):
    def complete(self, request: CompletionRequest, target: Target) -> ChatStream: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult: ...


Provider = ChatProvider | CompletionProvider | EmbeddingProvider
