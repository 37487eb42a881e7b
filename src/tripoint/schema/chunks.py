"""What flows back through the pipeline: an async stream of these chunks.

Chat and text completions share `ChatChunk` (a text completion is a choice with text and no
role); a non-streaming answer is one chunk carrying the whole message. Embeddings are one
`EmbeddingResult`, a prediction one `InferResult`. Fields a provider does not model are kept
in `extra` and passed through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tripoint.schema.json import JSON

EMPTY: Mapping[str, JSON] = MappingProxyType({})

# The per-event types (Usage, ToolCallDelta, ChoiceDelta, ChatChunk) are immutable by
# convention, not `frozen`: a frozen dataclass sets each field through `object.__setattr__`,
# about 3.5x the cost of a plain slots class, and every streamed event builds two or three.
# Nothing hashes them (their `extra` mappings are unhashable either way); derive a changed
# copy with `dataclasses.replace`, never assign to a field.


def _empty() -> Mapping[str, JSON]:
    return EMPTY


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # prompt_tokens_details and the like
    extra: Mapping[str, JSON] = field(default_factory=_empty)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    type: str | None = None


@dataclass(slots=True)
class ChoiceDelta:
    index: int = 0
    role: str | None = None
    text: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    logprobs: JSON = None
    extra: Mapping[str, JSON] = field(
        default_factory=_empty
    )  # refusal, reasoning_content, ... passed through


@dataclass(slots=True)
class ChatChunk:
    choices: tuple[ChoiceDelta, ...] = ()
    usage: Usage | None = None
    id: str | None = None
    created: int | None = None
    extra: Mapping[str, JSON] = field(
        default_factory=_empty
    )  # system_fingerprint, service_tier, ...


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    vectors: tuple[list[float] | str, ...]  # a str is a base64 vector, as the client asked
    usage: Usage | None = None
    extra: Mapping[str, JSON] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Tensor:
    """One named tensor of a prediction, its data flat in row-major order (OIP v2)."""

    name: str
    datatype: str  # an OIP v2 datatype: BOOL, INT64, FP32, BYTES, ...
    shape: tuple[int, ...]
    data: tuple[bool | int | float | str, ...]
    parameters: Mapping[str, JSON] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class InferResult:
    """A predictive model's answer: its output tensors (one chunk, never streamed)."""

    outputs: tuple[Tensor, ...]
    model_version: str | None = None
    id: str | None = None
    parameters: Mapping[str, JSON] = field(default_factory=_empty)
    usage: Usage | None = None  # predictive models count no tokens; kept for uniform stages


Chunk = ChatChunk | EmbeddingResult | InferResult
