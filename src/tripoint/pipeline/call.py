"""A Call (one request flowing through the pipeline) and its Record (what happened to it)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from tripoint.providers.target import Target
from tripoint.schema.chunks import Usage
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest


class Operation(StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. Filled by the auth stage; anonymous until it exists."""

    id: str
    team: str | None = None
    role: str = "member"


ANONYMOUS = Principal(id="anonymous")
EMPTY_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class Attempt:
    """One upstream attempt, timed at the router/provider boundary (perf_counter seconds).

    The upstream's own time is `finished_at - started`; the gateway's overhead is what the
    call took beyond the sum of its attempts.
    """

    target: Target
    started: float
    first_chunk_at: float | None = None  # the upstream's first answer arrived
    finished_at: float | None = None  # its last byte was read, or it failed
    error_type: str | None = None  # the OpenAI error type of a failed attempt


@dataclass(frozen=True, slots=True)
class Verdict:
    """A guardrail's decision on a call: `action` is allow, redact, flag or block."""

    guardrail: str  # the configured guardrail's name
    action: str
    stage: str = "input"  # input or output


@dataclass(frozen=True, slots=True)
class Decision:
    """A governance policy that changed a call: `effect` is deny or reroute."""

    policy: str  # the configured policy's name
    effect: str


@dataclass(slots=True)
class Record:
    """The one usage/audit record of a call, filled in by the stages as the call flows.

    It is the only mutable part of a call: stages write facts here (which target answered,
    attempts, usage, outcome) and the record stage persists it whatever the outcome.
    """

    request_id: str
    model: str
    operation: Operation
    started: float = field(default_factory=time.perf_counter)
    target: Target | None = None
    attempts: int = 0
    usage: Usage | None = None
    status: int = 200
    error_type: str | None = None
    first_chunk_at: float | None = None
    finished_at: float | None = None
    # Filled by the record stage and the router; read by every RecordSink.
    stream: bool = False
    principal_id: str = "anonymous"
    upstream: list[Attempt] = field(default_factory=list)  # every attempt, in order
    finish_reasons: tuple[str, ...] = ()
    # Set by later stages so metrics, ledger and audit see them; None means "not applicable".
    cost: float | None = None  # in the configured currency, filled by the limits stage
    limited: str | None = None  # the limit kind that rejected the call (requests, tokens, ...)
    cache_hit: bool | None = None  # None: no cache consulted
    verdicts: list[Verdict] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    trace_id: str | None = None  # the W3C trace id, when the call was traced

    @property
    def retries(self) -> int:
        """Attempts on the same backend as the attempt before."""
        return sum(
            1
            for a, b in zip(self.upstream, self.upstream[1:], strict=False)
            if a.target.backend.name == b.target.backend.name
        )

    @property
    def fallbacks(self) -> int:
        """Attempts that moved to another backend."""
        return max(0, len(self.upstream) - 1 - self.retries)

    @property
    def upstream_seconds(self) -> float:
        return sum(a.finished_at - a.started for a in self.upstream if a.finished_at is not None)


@dataclass(frozen=True, slots=True)
class Call:
    """One request flowing through the pipeline; stages hand on a changed copy, never mutate."""

    request: ChatRequest | CompletionRequest | EmbeddingRequest
    model: str  # the public model name the client asked for
    targets: tuple[Target, ...]  # candidates, in route order; governance may narrow them
    record: Record
    headers: Mapping[str, str] = field(
        default_factory=lambda: EMPTY_HEADERS
    )  # the request's headers, for stages that read them
    principal: Principal = ANONYMOUS

    @property
    def request_id(self) -> str:
        return self.record.request_id

    @property
    def operation(self) -> Operation:
        return operation_of(self.request)


def operation_of(request: ChatRequest | CompletionRequest | EmbeddingRequest) -> Operation:
    if isinstance(request, ChatRequest):
        return Operation.CHAT
    if isinstance(request, CompletionRequest):
        return Operation.COMPLETIONS
    return Operation.EMBEDDINGS
