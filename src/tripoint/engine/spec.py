"""What the engine is told (model specs, generation requests) and what it answers (pieces)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Kind(StrEnum):
    GENERATE = "generate"  # a GGUF file, run by llama.cpp
    EMBED = "embed"  # a directory with model.onnx and tokenizer.json, run by ONNX Runtime


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model and its limits. `instances` is its concurrency: each instance is one worker
    thread owning its own copy of the model; `queue` requests may wait beyond those."""

    name: str
    path: Path
    kind: Kind
    context: int = 2048  # tokens the model sees (prompt plus answer); embeddings truncate here
    max_tokens: int = 512  # most tokens one answer may generate
    instances: int = 1
    queue: int = 64
    threads: int = 1  # CPU threads per instance (one measured fastest on 2 cores)
    batch: int = 32  # embeddings: inputs per ONNX Runtime run
    temperature: float = 0.8  # used when the request gives none
    stream_interval: float = 0.002  # seconds; tokens produced within it are sent together


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Generation:
    """One text generation: a raw prompt, or chat turns the model's template formats."""

    prompt: str | tuple[ChatTurn, ...]
    max_tokens: int | None = None  # None: the model's limit
    temperature: float | None = None  # 0 is greedy and deterministic
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Piece:
    """Text as it is produced; the last piece carries the finish reason and token counts."""

    text: str = ""
    finish_reason: str | None = None  # "stop" or "length", on the last piece only
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]  # unit length, one per input, in input order
    tokens: int  # input tokens, after truncation
