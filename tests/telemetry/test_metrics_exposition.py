"""A scripted set of calls through the real gateway, then `/metrics` parsed and checked."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.telemetry.conftest import CLIENT_KEY, Observed

HELLO = [{"role": "user", "content": "Hello there"}]  # the fake counts 2 prompt tokens
CHAT = {"model": "chat-default", "operation": "chat", "backend": "fake", "pattern": "self_hosted"}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def run_script(observed: Observed, upstream: FakeOpenAI) -> None:
    client = observed.client
    client.chat.completions.create(model="chat-default", messages=HELLO)
    for _ in client.chat.completions.create(model="chat-default", messages=HELLO, stream=True):
        pass
    upstream.then(status=500)
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="chat-default", messages=HELLO)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="chat-default", messages=[])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="chat-default", messages=HELLO, user="limit-me")
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="chat-default", messages=HELLO, user="block-me")
    client.chat.completions.create(model="with-fallback", messages=HELLO)


def test_counts_every_call_by_model_backend_pattern_and_status(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    run_script(observed, upstream)

    metrics = observed.metrics()

    def requests(status: str, **where: str) -> float:
        return metrics[("tripoint_requests_total", labels(**where, status=status))]

    assert requests("200", **CHAT) == 2
    assert requests("502", **CHAT) == 1
    unrouted = {"operation": "chat", "backend": "none", "pattern": "none"}
    assert requests("404", model="other", **unrouted) == 1  # unknown names are bucketed
    assert requests("400", model="other", **unrouted) == 1  # rejected before its model was read
    assert requests("429", model="chat-default", **unrouted) == 1
    assert requests("403", model="chat-default", **unrouted) == 1
    fallback = {**CHAT, "model": "with-fallback"}
    assert requests("200", **fallback) == 1
    total = sum(v for (name, _), v in metrics.items() if name == "tripoint_requests_total")
    assert total == 8


def test_latency_histograms_observe_the_right_calls(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    run_script(observed, upstream)

    metrics = observed.metrics()

    stream_labels = labels(model="chat-default", backend="fake", pattern="self_hosted")
    assert metrics[("tripoint_request_duration_seconds_count", labels(**CHAT))] == 3
    assert metrics[("tripoint_time_to_first_token_seconds_count", stream_labels)] == 1
    assert metrics[("tripoint_time_per_output_token_seconds_count", stream_labels)] == 1
    overhead = labels(model="chat-default", operation="chat")
    assert metrics[("tripoint_gateway_overhead_seconds_count", overhead)] == 3
    assert metrics[("tripoint_gateway_overhead_seconds_sum", overhead)] > 0
    assert (
        metrics[("tripoint_gateway_overhead_seconds_sum", overhead)]
        < metrics[("tripoint_request_duration_seconds_sum", labels(**CHAT))]
    )


def test_counts_tokens_attempts_fallbacks_and_errors(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    run_script(observed, upstream)

    metrics = observed.metrics()

    tokens = {"model": "chat-default", "backend": "fake"}
    assert metrics[("tripoint_tokens_total", labels(**tokens, type="input"))] == 4
    assert metrics[("tripoint_tokens_total", labels(**tokens, type="output"))] == 12
    attempts = "tripoint_upstream_duration_seconds_count"
    fake = {"backend": "fake", "pattern": "self_hosted"}
    assert metrics[(attempts, labels(**fake, outcome="ok"))] == 3
    assert metrics[(attempts, labels(**fake, outcome="upstream_error"))] == 1
    dead = labels(backend="dead", pattern="saas", outcome="upstream_error")
    assert metrics[(attempts, dead)] == 1
    assert metrics[("tripoint_fallbacks_total", labels(model="with-fallback"))] == 1
    errors = labels(model="chat-default", backend="fake", error_type="upstream_error")
    assert metrics[("tripoint_request_errors_total", errors)] == 1


def test_counts_limit_rejections_and_guardrail_verdicts(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    run_script(observed, upstream)

    metrics = observed.metrics()

    assert metrics[("tripoint_limit_rejections_total", labels(kind="tokens"))] == 1
    verdict = "tripoint_guardrail_verdicts_total"
    assert metrics[(verdict, labels(guardrail="pii", stage="input", action="block"))] == 1
    # allowed: the two chat-default successes, the upstream failure and the fallback call
    assert metrics[(verdict, labels(guardrail="pii", stage="input", action="allow"))] == 4


def test_labels_never_carry_keys_request_ids_or_unknown_model_names(
    observed: Observed, upstream: FakeOpenAI
) -> None:
    run_script(observed, upstream)

    response = httpx.get(observed.url + "/metrics", timeout=5)

    assert CLIENT_KEY not in response.text
    assert "no-such-model" not in response.text
    assert "limit-me" not in response.text
    for record in observed.telemetry.recent.query():
        assert record.request_id not in response.text
