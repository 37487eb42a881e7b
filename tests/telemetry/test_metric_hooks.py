"""Record fields and hooks later controls set become bounded metric series."""

from __future__ import annotations

import time

from prometheus_client import generate_latest

from tests.telemetry.conftest import Samples, samples
from tripoint.pipeline.call import Operation, PolicyOutcome, Record, Verdict
from tripoint.providers.target import BackendFacts, Target
from tripoint.telemetry.metrics import MAX_LABEL_VALUES, Metrics

TARGET = Target(BackendFacts("gpu", "openai", "self_hosted", None, False, False, ()), "llama")


def finished(**fields: object) -> Record:
    record = Record(request_id="r", model="chat-default", operation=Operation.CHAT)
    record.target = TARGET
    record.finished_at = time.perf_counter()
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def exposition(metrics: Metrics) -> Samples:
    return samples(generate_latest(metrics.registry).decode())


def test_cost_cache_and_governance_fields_become_series() -> None:
    metrics = Metrics(["chat-default"])

    metrics.write(finished(cost=0.25, cache_hit=True))
    metrics.write(finished(cost=0.5, cache_hit=False))
    denied = PolicyOutcome("eu-only", "allow", ("saas/m",), dry_run=False)
    rerouted = PolicyOutcome("no-training", "reroute", ("saas/m",), False, "chat-private")
    metrics.write(finished(status=403, policies=[denied]))
    metrics.write(finished(policies=[rerouted]))
    metrics.write(finished(verdicts=[Verdict("pii", "redact", "output")]))

    found = exposition(metrics)
    assert (
        found[
            ("tripoint_cost_usd_total", frozenset({("model", "chat-default"), ("backend", "gpu")}))
        ]
        == 0.75
    )
    cache = {("model", "chat-default")}
    assert found[("tripoint_cache_requests_total", frozenset({*cache, ("result", "hit")}))] == 1
    assert found[("tripoint_cache_requests_total", frozenset({*cache, ("result", "miss")}))] == 1
    policy = "tripoint_governance_decisions_total"
    assert found[(policy, frozenset({("policy", "eu-only"), ("effect", "deny")}))] == 1
    assert found[(policy, frozenset({("policy", "no-training"), ("effect", "reroute")}))] == 1
    verdict = frozenset({("guardrail", "pii"), ("stage", "output"), ("action", "redact")})
    assert found[("tripoint_guardrail_verdicts_total", verdict)] == 1


def test_breaker_state_and_queue_depth_are_gauges() -> None:
    metrics = Metrics(["chat-default"])

    metrics.set_breaker_state("gpu", "open")
    metrics.set_breaker_state("saas", "half_open")
    metrics.set_queue_depth("batch", 7)

    found = exposition(metrics)
    assert found[("tripoint_breaker_state", frozenset({("backend", "gpu")}))] == 2
    assert found[("tripoint_breaker_state", frozenset({("backend", "saas")}))] == 1
    assert found[("tripoint_queue_depth", frozenset({("queue", "batch")}))] == 7


def test_free_form_label_values_are_capped() -> None:
    metrics = Metrics(["chat-default"])

    for n in range(MAX_LABEL_VALUES + 10):
        metrics.write(finished(limited=f"kind-{n}"))

    kinds = {
        dict(labels)["kind"]
        for (name, labels) in exposition(metrics)
        if name == "tripoint_limit_rejections_total"
    }
    assert len(kinds) == MAX_LABEL_VALUES + 1
    assert "other" in kinds


def test_unknown_model_names_share_one_label() -> None:
    metrics = Metrics(["chat-default"])

    for n in range(20):
        record = finished(status=404)
        record.model = f"probe-{n}"
        record.target = None
        metrics.write(record)

    models = {
        dict(labels)["model"]
        for (name, labels) in exposition(metrics)
        if name == "tripoint_requests_total"
    }
    assert models == {"other"}
