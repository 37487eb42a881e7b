"""The embedded engine as a provider: chat, completions and embeddings from local models."""

from __future__ import annotations

from pathlib import Path

from tripoint.config.schema import LocalBackend, LocalModel
from tripoint.engine import Engine, Generation, Kind, ModelSpec
from tripoint.providers.base import ChatStream
from tripoint.providers.local import codec
from tripoint.providers.priority import BACKGROUND
from tripoint.providers.target import Target
from tripoint.schema.chunks import EmbeddingResult, Usage
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest


class LocalProvider:
    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self.engine = engine

    async def start(self) -> None:
        await self.engine.start()

    async def close(self) -> None:
        await self.engine.close()

    async def ready(self) -> bool:
        return self.engine.ready()

    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        return self._stream(codec.chat_generation(request), target, chat=True)

    def complete(self, request: CompletionRequest, target: Target) -> ChatStream:
        return self._stream(codec.completion_generation(request), target, chat=False)

    async def embed(self, request: EmbeddingRequest, target: Target) -> EmbeddingResult:
        texts = codec.embedding_texts(request)
        with codec.engine_errors(self.name):
            result = await self.engine.embed(target.model, texts, background=BACKGROUND.get())
        vectors: tuple[list[float] | str, ...] = (
            tuple(codec.base64_vector(v) for v in result.vectors)
            if request.encoding_format == "base64"
            else tuple(result.vectors)
        )
        return EmbeddingResult(vectors, Usage(result.tokens, 0, result.tokens))

    async def _stream(self, generation: Generation, target: Target, *, chat: bool) -> ChatStream:
        pieces = self.engine.generate(target.model, generation, background=BACKGROUND.get())
        first = True
        try:
            with codec.engine_errors(self.name):
                async for piece in pieces:
                    for chunk in codec.chunks_from_piece(piece, chat=chat, first=first):
                        yield chunk
                    first = False
        finally:
            await pieces.aclose()  # stops the generation when the client went away


def engine_for(backend: LocalBackend, model_dir: Path) -> Engine:
    specs = [_spec(name, model, model_dir) for name, model in backend.models.items()]
    return Engine(specs, eager=backend.load == "start")


def _spec(name: str, model: LocalModel, model_dir: Path) -> ModelSpec:
    path = model.path if model.path.is_absolute() else model_dir / model.path
    kind = model.kind or ("generate" if path.suffix == ".gguf" else "embed")
    if kind == "embed" and path.suffix == ".onnx":
        path = path.parent  # the tokenizer lives next to the ONNX file
    return ModelSpec(
        name=name,
        path=path,
        kind=Kind(kind),
        context=model.context,
        max_tokens=model.max_tokens,
        instances=model.concurrency,
        queue=model.queue,
        threads=model.threads,
        batch=model.batch,
        temperature=model.temperature,
        stream_interval=model.stream_interval,
    )
