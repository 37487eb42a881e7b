"""The engine's own errors; the `local` provider maps them to Tripoint's error tree."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class UnknownModelError(EngineError):
    """No model of that name is configured in this engine."""


class ModelLoadError(EngineError):
    """The model's files are missing or cannot be loaded."""


class EngineBusyError(EngineError):
    """The model's queue is full: every instance is busy and `queue` requests already wait."""


class EngineClosedError(EngineError):
    """The engine is shutting down."""


class InputTooLongError(EngineError):
    """The prompt (plus the room needed to answer) does not fit the model's context."""


class InvalidGenerationError(EngineError):
    """The request asks for something this model cannot do (a limit, a kind of model)."""
