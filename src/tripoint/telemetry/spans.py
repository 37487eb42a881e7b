"""Spans recorded cheaply on the hot path and handed to OpenTelemetry's processors when done.

The SDK's live `Span` validates every attribute under a lock (about 100 us for a span of a
dozen attributes); a call only needs ids while it runs and the facts at its end. So an
`OpenSpan` holds plain fields, and closing it hands it, only when sampled, to a SpanSink:
the OTLP/JSON queue, or an SDK span processor (the in-memory exporter of the tests, the
protobuf exporter).
Sampling follows the SDK's ParentBased(TraceIdRatioBased) rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util.types import AttributeValue

UNSET = Status(StatusCode.UNSET)
SAMPLED = TraceFlags(TraceFlags.SAMPLED)
NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)


@dataclass(slots=True)
class OpenSpan:
    name: str
    kind: SpanKind
    context: SpanContext
    parent: SpanContext | None
    start_ns: int
    attributes: dict[str, AttributeValue]
    events: list[Event] = field(default_factory=list)
    status: Status = UNSET

    @property
    def recording(self) -> bool:
        return self.context.trace_flags.sampled

    @property
    def trace_id(self) -> str:
        return format(self.context.trace_id, "032x")

    def as_current(self) -> Context:
        """A context in which this span is the parent (what `propagate.inject` reads)."""
        return trace.set_span_in_context(NonRecordingSpan(self.context))

    def fail(self, message: str | None) -> None:
        self.status = Status(StatusCode.ERROR, message)


class SpanRecorder:
    def __init__(self, sink: SpanSink | None, sample_ratio: float) -> None:
        self._sink = sink  # None: spans only carry context, nothing is exported
        self._bound = TraceIdRatioBased.get_bound_for_rate(sample_ratio)
        self._ids = RandomIdGenerator()

    def open(
        self,
        name: str,
        kind: SpanKind,
        attributes: dict[str, AttributeValue],
        *,
        parent: SpanContext | None = None,
        start_ns: int | None = None,
    ) -> OpenSpan:
        """A span under `parent`, or under the current span when no parent is given."""
        if parent is None:
            current = trace.get_current_span().get_span_context()
            parent = current if current.is_valid else None
        if parent is not None:
            trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
        else:
            trace_id, state = self._ids.generate_trace_id(), None
            sampled = trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self._bound
            flags = SAMPLED if sampled else NOT_SAMPLED
        context = SpanContext(
            trace_id,
            self._ids.generate_span_id(),
            is_remote=False,
            trace_flags=flags,
            trace_state=state,
        )
        return OpenSpan(name, kind, context, parent, start_ns or time.time_ns(), attributes)

    def close(self, span: OpenSpan, end_ns: int | None = None) -> None:
        if self._sink is not None and span.recording:
            self._sink.add(span, end_ns or time.time_ns())

    def shutdown(self) -> None:
        if self._sink is not None:
            self._sink.shutdown()  # flushes what is still queued


class SpanSink(Protocol):
    """Where a closed, sampled span goes (an SDK processor, or the OTLP/JSON queue)."""

    def add(self, span: OpenSpan, end_ns: int) -> None: ...

    def shutdown(self) -> None: ...
