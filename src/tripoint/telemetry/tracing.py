"""OpenTelemetry spans with the GenAI semantic conventions: one per call, stage and attempt.

The tracer provider is owned here, never installed globally. Spans are parented explicitly:
a wrapper re-attaches its span's context around every step of the stream it wraps, so the
context is only ever attached and detached within one step of one task (async generators
may be resumed by different tasks). The attempt span is current while the provider sends
its request, which is how the upstream client's `propagate.inject` continues the trace.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tripoint import __version__
from tripoint.config.schema import TracingSettings
from tripoint.errors import TripointError
from tripoint.pipeline.attempt import timed_attempt
from tripoint.pipeline.call import Call, Operation, Record
from tripoint.pipeline.stage import ChunkStream, Next, Stage
from tripoint.providers.target import Target
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.requests import ChatRequest, CompletionRequest

OPERATION_NAMES = {
    Operation.CHAT: "chat",
    Operation.COMPLETIONS: "text_completion",
    Operation.EMBEDDINGS: "embeddings",
}
# Backend `type` -> gen_ai.provider.name (the conventions' well-known values).
PROVIDER_NAMES = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
}
_REQUEST_ATTRIBUTES = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("seed", "gen_ai.request.seed"),
    ("n", "gen_ai.request.choice.count"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
)


class Tracing:
    """The tracer and how calls, stages and upstream attempts become spans."""

    name = "tracing"

    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        resource = Resource.create(
            {"service.name": settings.service_name, "service.version": __version__}
        )
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        if exporter is not None:  # given by tests and embedders: export on span end
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif settings.otlp_endpoint is not None:
            headers = {k: v.get_secret_value() for k, v in settings.otlp_headers.items()}
            otlp = OTLPSpanExporter(endpoint=str(settings.otlp_endpoint), headers=headers)
            self.provider.add_span_processor(BatchSpanProcessor(otlp))
        self.tracer = self.provider.get_tracer("tripoint", __version__)
        self.capture_content = settings.capture_content

    def close(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor still holds

    # the call ----------------------------------------------------------------------------
    def start_call(self, call: Call) -> Span:
        """The call's span, continuing the client's `traceparent` when it sent one."""
        parent = propagate.extract(call.headers)
        operation = OPERATION_NAMES[call.operation]
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": call.model,
            "tripoint.request_id": call.request_id,
        }
        attributes.update(_request_attributes(call))
        span = self.tracer.start_span(
            f"{operation} {call.model}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            start_time=_ns(call.record.started),
        )
        if span.is_recording():
            call.record.trace_id = format(span.get_span_context().trace_id, "032x")
            if self.capture_content:
                span.set_attribute("gen_ai.input.messages", _input_content(call))
        return span

    def end_call(self, span: Span, record: Record, output: str | None = None) -> None:
        if span.is_recording():
            span.set_attributes(_record_attributes(record))
            for verdict in record.verdicts:
                event = {"guardrail": verdict.guardrail, "action": verdict.action}
                span.add_event("tripoint.guardrail", {**event, "stage": verdict.stage})
            for decision in record.decisions:
                span.add_event(
                    "tripoint.policy", {"policy": decision.policy, "effect": decision.effect}
                )
            if output is not None:
                span.set_attribute("gen_ai.output.messages", output)
            if record.status >= 500:
                span.set_status(Status(StatusCode.ERROR, record.error_type))
        span.end(end_time=_ns(record.finished_at) if record.finished_at else None)

    def rejected(self, record: Record, headers: Mapping[str, str]) -> None:
        """A call refused at the edge (bad body, unknown model) still leaves a span."""
        operation = OPERATION_NAMES[record.operation]
        span = self.tracer.start_span(
            f"{operation} {record.model}",
            context=propagate.extract(headers),
            kind=SpanKind.SERVER,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.request.model": record.model,
                "tripoint.request_id": record.request_id,
            },
            start_time=_ns(record.started),
        )
        if span.is_recording():
            record.trace_id = format(span.get_span_context().trace_id, "032x")
        self.end_call(span, record)

    # stages and attempts -------------------------------------------------------------------
    def stage(self, slot: str, stage: Stage) -> Stage:
        """`stage` inside its own child span, named for its pipeline slot."""
        return _SpanStage(self.tracer, slot, stage)

    async def attempt(self, call: Call, target: Target, stream: ChunkStream) -> ChunkStream:
        """One upstream attempt as a CLIENT span; current while the request is sent."""
        operation = OPERATION_NAMES[call.operation]
        provider = PROVIDER_NAMES.get(target.backend.type, target.backend.type)
        span = self.tracer.start_span(
            f"{operation} {target.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": target.model,
                "tripoint.backend": target.backend.name,
                "tripoint.attempt": len(call.record.upstream) + 1,  # 1-based, in call order
            },
        )
        before = len(call.record.upstream)
        timed = timed_attempt(call, target, stream)
        try:
            async for chunk in within(span, timed):
                if chunk.usage is not None:
                    span.set_attributes(_usage_attributes(chunk.usage))
                yield chunk
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            await timed.aclose()
            if len(call.record.upstream) > before:
                attempt = call.record.upstream[before]
                if attempt.first_chunk_at is not None:
                    ttfc = attempt.first_chunk_at - attempt.started
                    span.set_attribute("gen_ai.response.time_to_first_chunk", ttfc)
            span.set_attribute("gen_ai.response.model", target.model)
            span.end()


class _SpanStage:
    def __init__(self, tracer: trace.Tracer, slot: str, stage: Stage) -> None:
        self._tracer = tracer
        self._slot = slot
        self._stage = stage

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        span = self._tracer.start_span(f"tripoint.{self._slot}", kind=SpanKind.INTERNAL)
        inner = self._stage(call, call_next)
        try:
            async for chunk in within(span, inner):
                yield chunk
        except BaseException as exc:
            _fail(span, exc)
            raise
        finally:
            await inner.aclose()
            span.end()


async def within(span: Span, stream: ChunkStream) -> ChunkStream:
    """Iterate `stream` with `span` current during each step, and only then."""
    ctx = trace.set_span_in_context(span)
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


def output_text(chunks: list[ChatChunk]) -> str:
    """The completion as the conventions' output messages (only when content is opted in)."""
    texts: dict[int, list[str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.text:
                texts.setdefault(choice.index, []).append(choice.text)
    messages = [
        {"role": "assistant", "parts": [{"type": "text", "content": "".join(parts)}]}
        for _, parts in sorted(texts.items())
    ]
    return orjson.dumps(messages).decode()


def _fail(span: Span, exc: BaseException) -> None:
    if isinstance(exc, TripointError):
        span.set_attribute("error.type", exc.type)
        if exc.status >= 500:
            span.set_status(Status(StatusCode.ERROR, exc.type))
    elif isinstance(exc, Exception):
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
    else:  # cancelled: the client went away, not a fault of this span
        span.set_attribute("error.type", "cancelled")


def _record_attributes(record: Record) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "http.response.status_code": record.status,
        "tripoint.attempts": len(record.upstream),
        "tripoint.principal": record.principal_id,
    }
    if record.target is not None:
        backend = record.target.backend
        attributes["gen_ai.provider.name"] = PROVIDER_NAMES.get(backend.type, backend.type)
        attributes["gen_ai.response.model"] = record.target.model
        attributes["tripoint.backend"] = backend.name
        attributes["tripoint.pattern"] = backend.pattern
    if record.usage is not None:
        attributes.update(_usage_attributes(record.usage))
    if record.finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = record.finish_reasons
    if record.error_type is not None:
        attributes["error.type"] = record.error_type
    if record.cost is not None:
        attributes["tripoint.cost_usd"] = record.cost
    if record.first_chunk_at is not None and record.stream:
        attributes["gen_ai.response.time_to_first_chunk"] = record.first_chunk_at - record.started
    return attributes


def _usage_attributes(usage: object) -> dict[str, AttributeValue]:
    return {
        "gen_ai.usage.input_tokens": getattr(usage, "prompt_tokens", 0),
        "gen_ai.usage.output_tokens": getattr(usage, "completion_tokens", 0),
    }


def _request_attributes(call: Call) -> Mapping[str, AttributeValue]:
    request = call.request
    attributes: dict[str, AttributeValue] = {}
    if isinstance(request, ChatRequest | CompletionRequest):
        attributes["gen_ai.request.stream"] = bool(request.stream)
    for field, key in _REQUEST_ATTRIBUTES:
        value = getattr(request, field, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[key] = value
    return attributes


def _input_content(call: Call) -> str:
    request = call.request
    if isinstance(request, ChatRequest):
        return orjson.dumps([m.model_dump(mode="json") for m in request.messages]).decode()
    if isinstance(request, CompletionRequest):
        return orjson.dumps(request.prompt).decode()
    return orjson.dumps(request.input).decode()


def _ns(perf: float) -> int:
    """A perf_counter reading as the wall-clock nanoseconds OpenTelemetry expects."""
    return time.time_ns() - int((time.perf_counter() - perf) * 1e9)
