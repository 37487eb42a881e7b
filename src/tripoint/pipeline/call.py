"""A Call (one request flowing through the pipeline) and its Record (what happened to it)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from types import MappingProxyType

from tripoint.config.limits import NO_LIMITS, GrantedLimits
from tripoint.pipeline.findings import InputScan
from tripoint.providers.target import Target
from tripoint.schema.chunks import Usage
from tripoint.schema.oip import InferRequest
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest


class Priority(IntEnum):
    """Lower goes first where calls queue for a shared target."""

    INTERACTIVE = 0
    BATCH = 1


class Operation(StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    PREDICT = "predict"  # a predictive model's OIP v2 inference


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. Filled by the auth stage; anonymous until it exists."""

    id: str
    team: str | None = None  # the team's id
    role: str = "member"
    kind: str = "anonymous"  # anonymous | key | jwt | bootstrap
    models: frozenset[str] | None = None  # the models it may use; None: every model
    key_id: str | None = None
    expires_at: datetime | None = None
    team_name: str | None = None  # what limits and governance policies name teams by
    org: str | None = None  # the team's organisation (id)
    org_name: str | None = None  # what config limits name orgs by
    limits: GrantedLimits = NO_LIMITS  # set through the admin API, loaded with the identity

    @property
    def team_label(self) -> str | None:
        return self.team_name or self.team

    @property
    def org_label(self) -> str | None:
        return self.org_name or self.org

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


AnyRequest = ChatRequest | CompletionRequest | EmbeddingRequest | InferRequest
ANONYMOUS = Principal(id="anonymous")
EMPTY_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """One governance policy's effect on a call (or, in dry run, what it would have done)."""

    policy: str
    effect: str  # allow | deny | reroute
    excluded: tuple[str, ...]  # target labels removed
    dry_run: bool
    rerouted_to: str | None = None


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
    cache_hit: bool | None = None  # None: no cache consulted; True costs no tokens
    cost: Decimal | None = None  # USD, settled by the limits stage
    response_headers: dict[str, str] = field(default_factory=dict)  # stages' headers for the edge
    data_class: str | None = None
    policies: list[PolicyOutcome] = field(default_factory=list)  # governance decisions
    principal: Principal = field(default_factory=lambda: ANONYMOUS)  # who made the call
    wall_started: float = field(default_factory=time.time)  # epoch seconds, for the ledger
    # Filled by the record stage and the router; read by every RecordSink.
    stream: bool = False
    upstream: list[Attempt] = field(default_factory=list)  # every attempt, in order
    finish_reasons: tuple[str, ...] = ()
    limited: str | None = None  # the limit kind that rejected the call (requests, tokens, ...)
    verdicts: list[Verdict] = field(default_factory=list)
    trace_id: str | None = None  # the W3C trace id, when the call was traced

    @property
    def principal_id(self) -> str:
        return self.principal.id

    @property
    def decisions(self) -> list[Decision]:
        """Enforced policies that changed where the call could go (for metrics and spans)."""
        return [
            Decision(p.policy, "reroute" if p.rerouted_to else "deny")
            for p in self.policies
            if p.excluded and not p.dry_run
        ]

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

    guardrails: list[GuardrailEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Call:
    """One request flowing through the pipeline; stages hand on a changed copy, never mutate."""

    request: AnyRequest
    model: str  # the public model name the client asked for
    targets: tuple[Target, ...]  # candidates, in route order; governance may narrow them
    record: Record
    headers: Mapping[str, str] = field(
        default_factory=lambda: EMPTY_HEADERS
    )  # the request's headers, for stages that read them
    principal: Principal = ANONYMOUS
    priority: Priority = Priority.INTERACTIVE
    data_class: str | None = None  # set by the classify stage
    findings: frozenset[str] = frozenset()  # finding types in the input (PII, secrets)
    scan: InputScan | None = None  # where they are, per check and text: guardrails reuse it

    @property
    def request_id(self) -> str:
        return self.record.request_id

    @property
    def operation(self) -> Operation:
        return operation_of(self.request)


def operation_of(request: AnyRequest) -> Operation:
    if isinstance(request, ChatRequest):
        return Operation.CHAT
    if isinstance(request, CompletionRequest):
        return Operation.COMPLETIONS
    if isinstance(request, InferRequest):
        return Operation.PREDICT
    return Operation.EMBEDDINGS
