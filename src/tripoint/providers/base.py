"""The provider contract: one small interface per capability."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol, runtime_checkable

from tripoint.providers.target import Target
from tripoint.schema.chunks import ChatChunk, EmbeddingResult, InferResult
from tripoint.schema.oip import InferRequest, ModelMetadata
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


@runtime_checkable
class PredictionProvider(Protocol):
    """A predictive (non-LLM) model server: OIP v2 tensors in, tensors out."""

    async def infer(self, request: InferRequest, target: Target) -> InferResult: ...


@runtime_checkable
class ModelMetadataProvider(Protocol):
    """A model server that describes its models (OIP v2 `GET /v2/models/{name}[/ready]`)."""

    async def metadata(self, target: Target) -> ModelMetadata: ...

    async def ready(self, target: Target) -> bool: ...


Provider = ChatProvider | CompletionProvider | EmbeddingProvider | PredictionProvider
