"""The embedded inference engine: GGUF text generation and ONNX embeddings in worker threads.

It imports nothing else from Tripoint, so it could be its own package; the `local` provider
adapts it to the gateway.
"""

from tripoint.engine.engine import Engine
from tripoint.engine.errors import (
    EngineBusyError,
    EngineClosedError,
    EngineError,
    InputTooLongError,
    InvalidGenerationError,
    ModelLoadError,
    UnknownModelError,
)
from tripoint.engine.spec import ChatTurn, Embeddings, Generation, Kind, ModelSpec, Piece

__all__ = [
    "ChatTurn",
    "Embeddings",
    "Engine",
    "EngineBusyError",
    "EngineClosedError",
    "EngineError",
    "Generation",
    "InputTooLongError",
    "InvalidGenerationError",
    "Kind",
    "ModelLoadError",
    "ModelSpec",
    "Piece",
    "UnknownModelError",
]
