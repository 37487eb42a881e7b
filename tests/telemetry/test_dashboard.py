"""The Grafana dashboard only queries series Tripoint exports."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tripoint.pipeline.call import Attempt, Operation, PolicyOutcome, Record, Verdict
from tripoint.providers.target import BackendFacts, Target
from tripoint.schema.chunks import Usage
from tripoint.telemetry.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "tripoint.json"
TARGET = Target(BackendFacts("gpu", "openai", "self_hosted", None, False, False, ()), "llama")


def every_series() -> set[str]:
    """Sample names after one call that touches every metric family."""
    metrics = Metrics(["chat-default"])
    now = time.perf_counter()
    record = Record(request_id="r", model="chat-default", operation=Operation.CHAT, started=now)
    record.target, record.stream, record.usage = TARGET, True, Usage(3, 5, 8)
    record.first_chunk_at, record.finished_at = now + 0.1, now + 0.5
    other = Target(BackendFacts("saas", "openai", "saas", None, False, False, ()), "gpt")
    record.upstream = [  # a retry on gpu, then a fallback to saas
        Attempt(TARGET, now, finished_at=now + 0.1),
        Attempt(TARGET, now + 0.1, finished_at=now + 0.2),
        Attempt(other, now + 0.2, finished_at=now + 0.4),
    ]
    record.cost, record.limited, record.cache_hit = 0.01, "tokens", True
    record.verdicts = [Verdict("pii", "allow")]
    record.policies = [PolicyOutcome("eu-only", "reroute", ("gpu/m",), False, "chat-eu")]
    record.error_type = "upstream_error"
    metrics.write(record)
    metrics.set_breaker_state("gpu", "closed")
    metrics.set_queue_depth("batch", 0)
    families = text_string_to_metric_families(generate_latest(metrics.registry).decode())
    return {sample.name for family in families for sample in family.samples}


def queries(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [q for value in node.values() for q in queries(value)]
    if isinstance(node, list):
        return [q for value in node for q in queries(value)]
    return []


def test_every_dashboard_query_names_an_exported_series() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    exported = every_series()

    used = {name for expr in queries(dashboard) for name in re.findall(r"tripoint_\w+", expr)}

    assert used
    assert used <= exported, sorted(used - exported)
