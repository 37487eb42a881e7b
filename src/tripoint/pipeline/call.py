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


@dataclass(frozen=True, slots=True)
class GuardrailEvent:
    """One guardrail's verdict on one direction of a call: types and counts, never the text.

    `outcome` is what happened (pass, redact, block, error); `would` is what a check in
    shadow mode (`action: log`) would have done.
    """

    guardrail: str
    direction: str  # input | output
    outcome: str
    findings: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    would: str | None = None


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
    guardrails: list[GuardrailEvent] = field(default_factory=list)


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
