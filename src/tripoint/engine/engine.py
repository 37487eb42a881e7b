"""The Engine: named models, each in its own lane of worker threads; async in, async out."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from tripoint.engine.errors import (
    EngineError,
    InvalidGenerationError,
    ModelLoadError,
    UnknownModelError,
)
from tripoint.engine.lane import Emit, Lane, LaneStats
from tripoint.engine.spec import Embeddings, Generation, Kind, ModelSpec, Piece

if TYPE_CHECKING:
    from tripoint.engine.gguf import GGUFModel
    from tripoint.engine.onnx import ONNXEmbedder


class Engine:
    def __init__(self, specs: Iterable[ModelSpec], *, eager: bool = True) -> None:
        """`eager`: load every model at start (readiness waits for it); else on first use."""
        self._eager = eager
        self._generators: dict[str, Lane[GGUFModel]] = {}
        self._embedders: dict[str, Lane[ONNXEmbedder]] = {}
        for spec in specs:
            if spec.name in self._generators or spec.name in self._embedders:
                raise ValueError(f"model {spec.name!r} is configured twice")
            if spec.kind is Kind.GENERATE:
                self._generators[spec.name] = Lane(spec, _load_gguf)
            else:
                self._embedders[spec.name] = Lane(spec, _load_onnx)

    async def start(self) -> None:
        """Start the worker threads; with `eager` they load their models in the background."""
        for lane in self._lanes():
            lane.start(eager=self._eager)

    async def close(self) -> None:
        for lane in self._lanes():
            await lane.close()

    def ready(self) -> bool:
        return all(lane.ready() for lane in self._lanes())

    def states(self) -> dict[str, str]:
        return {lane.spec.name: lane.state() for lane in self._lanes()}

    def spec(self, model: str) -> ModelSpec:
        return self._lane(model).spec

    def stats(self, model: str) -> LaneStats:
        """A snapshot of what the model's workers did (running, completed, stopped, failed)."""
        return self._lane(model).snapshot()

    def _lane(self, model: str) -> Lane[GGUFModel] | Lane[ONNXEmbedder]:
        lane = self._generators.get(model) or self._embedders.get(model)
        if lane is None:
            raise UnknownModelError(f"no local model named {model!r}")
        return lane

    async def generate(
        self, model: str, generation: Generation, *, background: bool = False
    ) -> AsyncGenerator[Piece, None]:
        """Text as it is produced; the last piece has the finish reason and token counts.
        Closing the generator early stops the generation. `background` work yields to
        interactive requests waiting for the same model."""
        lane = self._generators.get(model)
        if lane is None:
            raise self._unknown(model, Kind.GENERATE)
        limit = lane.spec.max_tokens
        if generation.max_tokens is not None and generation.max_tokens > limit:
            raise InvalidGenerationError(
                f"max_tokens is {generation.max_tokens}; model {model!r} allows at most {limit}"
            )
        stream = lane.run(partial(_generate, generation), background=background)
        try:
            async for item in stream:
                if isinstance(item, Piece):
                    yield item
        finally:
            await stream.aclose()

    async def embed(
        self, model: str, texts: Sequence[str], *, background: bool = False
    ) -> Embeddings:
        lane = self._embedders.get(model)
        if lane is None:
            raise self._unknown(model, Kind.EMBED)
        stream = lane.run(partial(_embed, tuple(texts)), background=background)
        try:
            async for item in stream:
                if isinstance(item, Embeddings):
                    return item
        finally:
            await stream.aclose()
        raise EngineError("the embedding worker returned nothing")

    def _lanes(self) -> list[Lane[GGUFModel] | Lane[ONNXEmbedder]]:
        return [*self._generators.values(), *self._embedders.values()]

    def _unknown(self, model: str, kind: Kind) -> EngineError:
        if model in self._generators or model in self._embedders:
            return InvalidGenerationError(f"local model {model!r} cannot {kind.value}")
        return UnknownModelError(f"no local model named {model!r}")


def _generate(
    generation: Generation, model: GGUFModel, emit: Emit, cancelled: threading.Event
) -> None:
    model.generate(generation, emit, cancelled)


def _embed(texts: tuple[str, ...], model: ONNXEmbedder, emit: Emit, _: threading.Event) -> None:
    emit(model.embed(texts))


def _load_gguf(spec: ModelSpec) -> GGUFModel:
    try:
        from tripoint.engine.gguf import GGUFModel  # noqa: PLC0415 -- an optional extra
    except ImportError as exc:
        raise ModelLoadError(
            f"{exc.name} is not installed: pip install 'tripoint[local]'"
        ) from None
    return GGUFModel(spec)


def _load_onnx(spec: ModelSpec) -> ONNXEmbedder:
    try:
        from tripoint.engine.onnx import ONNXEmbedder  # noqa: PLC0415 -- an optional extra
    except ImportError as exc:
        raise ModelLoadError(
            f"{exc.name} is not installed: pip install 'tripoint[local]'"
        ) from None
    return ONNXEmbedder(spec)
