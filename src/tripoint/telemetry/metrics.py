"""Prometheus metrics: every finished Record becomes counters and histograms.

Label sets are fixed and bounded: model names are the configured ones (anything else is
`other`), backends and patterns come from config, and free-form values set by later stages
(guardrail, policy, limit kind, error type) are capped per label. Never a key, user or request
id. With PROMETHEUS_MULTIPROC_DIR set (uvicorn with several workers), every worker writes its
values to that directory and the exposition sums them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar, cast

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase

from tripoint.pipeline.call import Record

OTHER = "other"
NONE = "none"
MAX_LABEL_VALUES = 64  # per free-form label; beyond it values read `other`

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30)
TPOT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1)

M = TypeVar("M", bound=MetricWrapperBase)
BREAKER_STATES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
CALL = ("model", "operation", "backend", "pattern")


class BoundedLabel:
    """Passes the first `limit` distinct values of a label through, then answers `other`."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


class Metrics:
    """The metric families (documented in the README) and how a Record updates them."""

    name = "metrics"

    def __init__(self, models: Iterable[str]) -> None:
        self._models = frozenset(models)
        self._free = {
            k: BoundedLabel() for k in ("error", "guardrail", "policy", "kind", "act", "stage")
        }
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # labelled children by (family, values): `labels()` validates and locks on every call
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "tripoint_requests", "Calls by outcome status.", (*CALL, "status"), registry=r
        )
        self.errors = Counter(
            "tripoint_request_errors",
            "Failed calls by OpenAI error type.",
            ("model", "backend", "error_type"),
            registry=r,
        )
        self.duration = Histogram(
            "tripoint_request_duration_seconds",
            "Whole call, edge to last chunk.",
            CALL,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "tripoint_time_to_first_token_seconds",
            "Streamed calls: edge to first chunk.",
            ("model", "backend", "pattern"),
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tpot = Histogram(
            "tripoint_time_per_output_token_seconds",
            "Streamed calls: time per output token after the first.",
            ("model", "backend", "pattern"),
            buckets=TPOT_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "tripoint_gateway_overhead_seconds",
            "Time spent in Tripoint itself: the call minus its upstream attempts.",
            ("model", "operation"),
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "tripoint_upstream_duration_seconds",
            "One upstream attempt, request sent to last byte.",
            ("backend", "pattern", "outcome"),
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "tripoint_tokens",
            "Tokens by direction (type: input or output).",
            ("model", "backend", "type"),
            registry=r,
        )
        self.cost = Counter(
            "tripoint_cost_usd",
            "Spend in USD (filled by the limits stage).",
            ("model", "backend"),
            registry=r,
        )
        self.limited = Counter(
            "tripoint_limit_rejections",
            "Calls a limit rejected, by limit kind.",
            ("kind",),
            registry=r,
        )
        self.verdicts = Counter(
            "tripoint_guardrail_verdicts",
            "Guardrail decisions by guardrail, stage (input/output) and action.",
            ("guardrail", "stage", "action"),
            registry=r,
        )
        self.decisions = Counter(
            "tripoint_governance_decisions",
            "Governance policies that denied or rerouted a call.",
            ("policy", "effect"),
            registry=r,
        )
        self.retries = Counter(
            "tripoint_retries",
            "Repeated attempts on the same backend.",
            ("model", "backend"),
            registry=r,
        )
        self.fallbacks = Counter(
            "tripoint_fallbacks", "Attempts moved to another backend.", ("model",), registry=r
        )
        self.cache = Counter(
            "tripoint_cache_requests",
            "Response cache lookups (result: hit or miss).",
            ("model", "result"),
            registry=r,
        )
        self.breaker = Gauge(
            "tripoint_breaker_state",
            "Circuit breaker per backend: 0 closed, 1 half-open, 2 open.",
            ("backend",),
            registry=r,
            multiprocess_mode="livemax",  # the worst state any live worker sees
        )
        self.queue = Gauge(
            "tripoint_queue_depth",
            "Items waiting in a named queue (batch, record outbox, ...).",
            ("queue",),
            registry=r,
            multiprocess_mode="livesum",
        )

    def _child(self, metric: M, *values: str) -> M:
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return cast(M, child)

    # hooks for components that own state rather than calls --------------------------------
    def set_breaker_state(self, backend: str, state: str) -> None:
        self._child(self.breaker, backend).set(BREAKER_STATES[state])

    def set_queue_depth(self, queue: str, depth: int) -> None:
        self._child(self.queue, queue).set(depth)

    # the RecordSink --------------------------------------------------------------------------
    def write(self, record: Record) -> None:
        model = record.model if record.model in self._models else OTHER
        target = record.target
        backend = target.backend.name if target else NONE
        pattern = target.backend.pattern if target else NONE
        operation = record.operation.value
        self._child(self.requests, model, operation, backend, pattern, str(record.status)).inc()
        if record.error_type is not None:
            self._child(self.errors, model, backend, self._free["error"](record.error_type)).inc()
        if record.finished_at is not None:
            total = record.finished_at - record.started
            self._child(self.duration, model, operation, backend, pattern).observe(total)
            if record.upstream:
                overhead = max(0.0, total - record.upstream_seconds)
                self._child(self.overhead, model, operation).observe(overhead)
            self._stream_latency(record, model, backend, pattern)
        self._attempts(record, model)
        self._usage(record, model, backend)
        self._controls(record, model)

    def _stream_latency(self, record: Record, model: str, backend: str, pattern: str) -> None:
        if not record.stream or record.first_chunk_at is None:
            return
        self._child(self.ttft, model, backend, pattern).observe(
            record.first_chunk_at - record.started
        )
        if record.status != 200 or record.usage is None or record.finished_at is None:
            return
        after_first = record.usage.completion_tokens - 1
        if after_first > 0:
            tpot = (record.finished_at - record.first_chunk_at) / after_first
            self._child(self.tpot, model, backend, pattern).observe(tpot)

    def _attempts(self, record: Record, model: str) -> None:
        for attempt in record.upstream:
            if attempt.finished_at is None:
                continue
            facts = attempt.target.backend
            outcome = self._free["error"](attempt.error_type) if attempt.error_type else "ok"
            self._child(self.upstream, facts.name, facts.pattern, outcome).observe(
                attempt.finished_at - attempt.started
            )
        previous = None
        for attempt in record.upstream:
            name = attempt.target.backend.name
            if previous == name:
                self._child(self.retries, model, name).inc()
            elif previous is not None:
                self._child(self.fallbacks, model).inc()
            previous = name

    def _usage(self, record: Record, model: str, backend: str) -> None:
        if record.usage is not None:
            self._child(self.tokens, model, backend, "input").inc(record.usage.prompt_tokens)
            self._child(self.tokens, model, backend, "output").inc(record.usage.completion_tokens)
        if record.cost:
            self._child(self.cost, model, backend).inc(float(record.cost))

    def _controls(self, record: Record, model: str) -> None:
        if record.limited is not None:
            self._child(self.limited, self._free["kind"](record.limited)).inc()
        for verdict in record.verdicts:
            guardrail = self._free["guardrail"](verdict.guardrail)
            self._child(
                self.verdicts, guardrail, verdict.stage, self._free["act"](verdict.action)
            ).inc()
        for decision in record.decisions:
            policy = self._free["policy"](decision.policy)
            self._child(self.decisions, policy, self._free["act"](decision.effect)).inc()
        if record.cache_hit is not None:
            self._child(self.cache, model, "hit" if record.cache_hit else "miss").inc()

    # exposition ------------------------------------------------------------------------------
    def exposition(self) -> tuple[bytes, str]:
        """The text format for a scrape: this process's values, or every worker's."""
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged), CONTENT_TYPE_LATEST

    def close(self) -> None:
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
