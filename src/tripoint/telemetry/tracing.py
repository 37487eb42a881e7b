"""OpenTelemetry spans with the GenAI semantic conventions: one per call, stage and attempt.

Spans are parented explicitly: a wrapper makes its span current around steps of the stream
it wraps, attaching and detaching within one step of one task (async generators may be
resumed by different tasks). The call span and an attempt span are current for the first
step, which covers every request an upstream client sends (its `propagate.inject` reads the
attempt span) at no per-chunk cost; a stage span is current for every step, so that spans
a stage opens late in a stream still find their parent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

from tripoint import __version__
from tripoint.config.schema import TracingSettings
from tripoint.errors import TripointError
from tripoint.pipeline.attempt import begin_attempt, error_type_of
from tripoint.pipeline.call import Call, Record
from tripoint.pipeline.stage import ChunkStream, Next, Stage
from tripoint.providers.target import Target
from tripoint.schema.chunks import Chunk
from tripoint.telemetry.genai import (
    OPERATION_NAMES,
    PROVIDER_NAMES,
    input_content,
    record_attributes,
    request_attributes,
    usage_attributes,
)
from tripoint.telemetry.span_queue import JsonSpanQueue, ProcessorSink
from tripoint.telemetry.spans import OpenSpan, SpanRecorder, SpanSink


class Tracing:
    """How calls, stages and upstream attempts become spans."""

    name = "tracing"

    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        resource = Resource.create(
            {"service.name": settings.service_name, "service.version": __version__}
        )
        scope = InstrumentationScope("tripoint", __version__)
        self.spans = SpanRecorder(_sink(settings, exporter, resource, scope), settings.sample_ratio)
        self.capture_content = settings.capture_content

    def close(self) -> None:
        self.spans.shutdown()

    # the call ----------------------------------------------------------------------------
    def start_call(self, call: Call) -> OpenSpan:
        """The call's span, continuing the client's `traceparent` when it sent one."""
        operation = OPERATION_NAMES[call.operation]
        span = self.spans.open(
            f"{operation} {call.model}",
            SpanKind.SERVER,
            {},
            parent=_remote_parent(call.headers),
            start_ns=_ns(call.record.started),
        )
        if span.recording:  # an unsampled span only carries the context: skip its facts
            call.record.trace_id = span.trace_id
            span.attributes.update(
                {
                    "gen_ai.operation.name": operation,
                    "gen_ai.request.model": call.model,
                    "tripoint.request_id": call.request_id,
                }
            )
            span.attributes.update(request_attributes(call))
            if self.capture_content:
                span.attributes["gen_ai.input.messages"] = input_content(call)
        return span

    def end_call(self, span: OpenSpan, record: Record, output: str | None = None) -> None:
        if span.recording:
            span.attributes.update(record_attributes(record))
            now = time.time_ns()
            for verdict in record.verdicts:
                event = {"guardrail": verdict.guardrail, "action": verdict.action}
                span.events.append(
                    Event("tripoint.guardrail", {**event, "stage": verdict.stage}, now)
                )
            for decision in record.decisions:
                event = {"policy": decision.policy, "effect": decision.effect}
                span.events.append(Event("tripoint.policy", event, now))
            if output is not None:
                span.attributes["gen_ai.output.messages"] = output
            if record.status >= 500:
                span.fail(record.error_type)
        self.spans.close(span, _ns(record.finished_at) if record.finished_at else None)

    def rejected(self, record: Record, headers: Mapping[str, str]) -> None:
        """A call refused at the edge (bad body, unknown model) still leaves a span."""
        operation = OPERATION_NAMES[record.operation]
        span = self.spans.open(
            f"{operation} {record.model}".rstrip(),  # no model when the body did not parse
            SpanKind.SERVER,
            {
                "gen_ai.operation.name": operation,
                "gen_ai.request.model": record.model,
                "tripoint.request_id": record.request_id,
            },
            parent=_remote_parent(headers),
            start_ns=_ns(record.started),
        )
        if span.recording:
            record.trace_id = span.trace_id
        self.end_call(span, record)

    # stages and attempts -------------------------------------------------------------------
    def stage(self, slot: str, stage: Stage) -> Stage:
        """`stage` inside its own child span, named for its pipeline slot."""
        return _SpanStage(self.spans, slot, stage)

    async def attempt(self, call: Call, target: Target, stream: ChunkStream) -> ChunkStream:
        """One upstream attempt, timed on the Record and as a CLIENT span; the span is
        current while the provider sends its request (its first step)."""
        operation = OPERATION_NAMES[call.operation]
        provider = PROVIDER_NAMES.get(target.backend.type, target.backend.type)
        span = self.spans.open(f"{operation} {target.model}", SpanKind.CLIENT, {})
        if span.recording:
            span.attributes.update(
                {
                    "gen_ai.operation.name": operation,
                    "gen_ai.provider.name": provider,
                    "gen_ai.request.model": target.model,
                    "gen_ai.response.model": target.model,
                    "tripoint.backend": target.backend.name,
                    "tripoint.attempt": len(call.record.upstream) + 1,  # 1-based
                }
            )
        attempt = begin_attempt(call, target)
        try:
            token = otel_context.attach(span.as_current())
            try:
                first = await anext(stream)
            finally:
                otel_context.detach(token)
            attempt.first_chunk_at = time.perf_counter()
            span.attributes["gen_ai.response.time_to_first_chunk"] = (
                attempt.first_chunk_at - attempt.started
            )
            if first.usage is not None:
                span.attributes.update(usage_attributes(first.usage))
            yield first
            async for chunk in stream:
                if chunk.usage is not None:
                    span.attributes.update(usage_attributes(chunk.usage))
                yield chunk
        except StopAsyncIteration:
            return
        except BaseException as exc:
            attempt.error_type = error_type_of(exc)
            _fail(span, exc)
            raise
        finally:
            attempt.finished_at = time.perf_counter()
            await stream.aclose()
            self.spans.close(span)


class _SpanStage:
    def __init__(self, spans: SpanRecorder, slot: str, stage: Stage) -> None:
        self._spans = spans
        self._name = f"tripoint.{slot}"
        self._stage = stage

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        span = self._spans.open(self._name, SpanKind.INTERNAL, {})
        inner = self._stage(call, call_next)
        try:
            async for chunk in within(span, inner):
                yield chunk
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            await inner.aclose()
            self._spans.close(span)


async def first_step(span: OpenSpan | None, stream: ChunkStream) -> Chunk | None:
    """The first chunk of `stream` (None when it is empty), with `span` current meanwhile."""
    token = otel_context.attach(span.as_current()) if span is not None else None
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None
    finally:
        if token is not None:
            otel_context.detach(token)


async def within(span: OpenSpan, stream: ChunkStream) -> ChunkStream:
    """Iterate `stream` with `span` current during each of its steps, and only then."""
    ctx = span.as_current()
    try:
        while True:
            token = otel_context.attach(ctx)
            try:
                chunk = await anext(stream)
            except StopAsyncIteration:
                return
            finally:
                otel_context.detach(token)
            yield chunk
    finally:
        await stream.aclose()


def _sink(
    settings: TracingSettings,
    exporter: SpanExporter | None,
    resource: Resource,
    scope: InstrumentationScope,
) -> SpanSink | None:
    if exporter is not None:  # given by tests and embedders: export as each span ends
        return ProcessorSink(SimpleSpanProcessor(exporter), resource, scope)
    if settings.otlp_endpoint is None:
        return None  # spans still carry the trace context to upstreams; nothing is exported
    endpoint = str(settings.otlp_endpoint)
    headers = {k: v.get_secret_value() for k, v in settings.otlp_headers.items()}
    if settings.otlp_protocol == "http/json":
        return JsonSpanQueue(endpoint, headers, resource, scope)
    # the protobuf exporter (opentelemetry-proto, protobuf) loads only when it is used
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    otlp = OTLPSpanExporter(endpoint=endpoint, headers=headers)
    return ProcessorSink(BatchSpanProcessor(otlp), resource, scope)


def _remote_parent(headers: Mapping[str, str]) -> trace.SpanContext | None:
    if "traceparent" not in headers:
        return None
    parent = trace.get_current_span(propagate.extract(headers)).get_span_context()
    return parent if parent.is_valid else None


def _fail(span: OpenSpan, exc: BaseException) -> None:
    if isinstance(exc, TripointError):
        span.attributes["error.type"] = exc.type
        if exc.status >= 500:
            span.fail(exc.type)
    elif isinstance(exc, Exception):
        span.attributes["error.type"] = type(exc).__qualname__
        span.fail(type(exc).__qualname__)
    else:  # cancelled: the client went away, not a fault of this span
        span.attributes["error.type"] = "cancelled"


def _ns(perf: float) -> int:
    """A perf_counter reading as the wall-clock nanoseconds OpenTelemetry expects."""
    return time.time_ns() - int((time.perf_counter() - perf) * 1e9)
