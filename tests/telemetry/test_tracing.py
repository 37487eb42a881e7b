"""Spans through the real gateway: the tree, GenAI attributes, and W3C trace context."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.telemetry.conftest import Observed, build_observed
from tripoint.config.schema import TelemetrySettings, TracingSettings

HELLO = [{"role": "user", "content": "Hello secret-prompt-text"}]
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"


def finished(observed: Observed, count: int) -> list[ReadableSpan]:
    deadline = time.monotonic() + 5
    while len(observed.spans.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return list(observed.spans.get_finished_spans())


def by_kind(spans: list[ReadableSpan], kind: SpanKind) -> list[ReadableSpan]:
    return [s for s in spans if s.kind == kind]


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None
    return next(s for s in spans if s.context.span_id == span.parent.span_id)


def test_continues_the_clients_traceparent_and_sends_it_upstream(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    observed.client.chat.completions.create(
        model="chat-default", messages=HELLO, extra_headers={"traceparent": TRACEPARENT}
    )

    spans = finished(observed, 4)

    (call,) = by_kind(spans, SpanKind.SERVER)
    (attempt,) = by_kind(spans, SpanKind.CLIENT)
    assert format(call.context.trace_id, "032x") == CLIENT_TRACE
    assert call.parent is not None
    assert call.parent.is_remote
    assert format(call.parent.span_id, "016x") == CLIENT_SPAN
    sent = upstream.calls[-1].headers["traceparent"]
    version, trace_id, span_id, _flags = sent.split("-")
    assert (version, trace_id) == ("00", CLIENT_TRACE)
    assert span_id == format(attempt.context.span_id, "016x")  # the attempt is the parent


def test_starts_a_new_trace_without_a_traceparent(observed: Observed, upstream: FakeOpenAI) -> None:
    observed.client.chat.completions.create(model="chat-default", messages=HELLO)

    spans = finished(observed, 4)

    (call,) = by_kind(spans, SpanKind.SERVER)
    assert call.parent is None
    record = observed.telemetry.recent.query()[0]
    assert record.trace_id == format(call.context.trace_id, "032x")
    assert CLIENT_TRACE not in upstream.calls[-1].headers["traceparent"]


def test_makes_one_span_per_call_stage_and_upstream_attempt(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    observed.client.chat.completions.create(model="with-fallback", messages=HELLO)

    spans = finished(observed, 5)

    (call,) = by_kind(spans, SpanKind.SERVER)
    limits = next(s for s in spans if s.name == "tripoint.limits")
    guardrails = next(s for s in spans if s.name == "tripoint.guardrails")
    dead, alive = sorted(by_kind(spans, SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert call.name == "chat with-fallback"
    assert parent_of(limits, spans) is call
    assert parent_of(guardrails, spans) is limits
    assert parent_of(dead, spans) is guardrails
    assert parent_of(alive, spans) is guardrails
    assert dead.attributes is not None
    assert alive.attributes is not None
    assert dead.attributes["tripoint.backend"] == "dead"
    assert dead.attributes["error.type"] == "upstream_error"
    assert dead.status.status_code == StatusCode.ERROR
    assert alive.attributes["tripoint.backend"] == "fake"
    assert alive.attributes["tripoint.attempt"] == 2
    assert alive.status.status_code == StatusCode.UNSET
    assert len({s.context.trace_id for s in spans}) == 1


def test_spans_carry_the_genai_semantic_conventions(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    for _ in observed.client.chat.completions.create(
        model="chat-default", messages=HELLO, stream=True, max_tokens=50, temperature=0.5
    ):
        pass

    spans = finished(observed, 4)

    (call,) = by_kind(spans, SpanKind.SERVER)
    (attempt,) = by_kind(spans, SpanKind.CLIENT)
    assert call.attributes is not None
    assert attempt.attributes is not None
    assert call.name == "chat chat-default"
    assert {
        k: call.attributes[k]
        for k in (
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.response.model",
            "gen_ai.request.stream",
            "gen_ai.request.max_tokens",
            "gen_ai.request.temperature",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.response.finish_reasons",
        )
    } == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "chat-default",
        "gen_ai.response.model": "upstream-chat",
        "gen_ai.request.stream": True,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.usage.input_tokens": 2,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.response.finish_reasons": ("stop",),
    }
    assert call.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attempt.name == "chat upstream-chat"
    assert attempt.attributes["gen_ai.request.model"] == "upstream-chat"
    assert attempt.attributes["gen_ai.usage.output_tokens"] == 6


def test_a_blocked_call_marks_the_stage_that_refused_it(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    with pytest.raises(openai.PermissionDeniedError):
        observed.client.chat.completions.create(
            model="chat-default", messages=HELLO, user="block-me"
        )

    spans = finished(observed, 3)

    (call,) = by_kind(spans, SpanKind.SERVER)
    guardrails = next(s for s in spans if s.name == "tripoint.guardrails")
    assert not by_kind(spans, SpanKind.CLIENT)
    assert guardrails.attributes is not None
    assert call.attributes is not None
    assert guardrails.attributes["error.type"] == "permission_error"
    assert call.attributes["http.response.status_code"] == 403
    assert [e.name for e in call.events] == ["tripoint.guardrail"]
    assert not upstream.calls


def test_a_call_refused_at_the_edge_still_leaves_a_span(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    with pytest.raises(openai.NotFoundError):
        observed.client.chat.completions.create(
            model="no-such-model", messages=HELLO, extra_headers={"traceparent": TRACEPARENT}
        )

    (call,) = finished(observed, 1)

    assert call.attributes is not None
    assert call.attributes["error.type"] == "invalid_request_error"
    assert call.attributes["http.response.status_code"] == 404
    assert format(call.context.trace_id, "032x") == CLIENT_TRACE


def test_puts_no_prompt_or_completion_on_spans_by_default(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    observed.client.chat.completions.create(model="chat-default", messages=HELLO)

    spans = finished(observed, 4)

    values = [str(v) for s in spans for v in (s.attributes or {}).values()]
    assert not any("secret-prompt-text" in v or "fake upstream" in v for v in values)


@pytest.fixture
def capturing(upstream: FakeOpenAI) -> Iterator[Observed]:
    tracing = TracingSettings(enabled=True, capture_content=True)
    server = build_observed(gateway_settings(upstream.base_url), TelemetrySettings(tracing=tracing))
    yield server
    server.thread.stop()


def test_puts_prompt_and_completion_on_the_call_span_when_opted_in(
    capturing: Observed, upstream: FakeOpenAI
) -> None:
    capturing.client.chat.completions.create(model="chat-default", messages=HELLO)

    spans = finished(capturing, 4)

    (call,) = by_kind(spans, SpanKind.SERVER)
    assert call.attributes is not None
    assert "secret-prompt-text" in str(call.attributes["gen_ai.input.messages"])
    assert "Hello from the fake upstream!" in str(call.attributes["gen_ai.output.messages"])
