"""A real gateway with telemetry on, an in-memory span exporter, and stand-ins for the
controls later issues build (a limit and a guardrail that reject on request), so every
outcome the record stage must see can be produced through HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import gateway_settings
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.config.schema import Settings, TelemetrySettings, TracingSettings
from tripoint.errors import PermissionDeniedError, RateLimitError
from tripoint.gateway import Gateway
from tripoint.pipeline.call import Call, Verdict
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.telemetry import Telemetry

CLIENT_KEY = "sk-test-secret-9876"


class ScriptedLimit:
    """Rejects calls whose `user` is `limit-me`, the way the limits stage will."""

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        if getattr(call.request, "user", None) == "limit-me":
            call.record.limited = "tokens"
            raise RateLimitError("token limit reached", retry_after=3)
        async for chunk in call_next(call):
            yield chunk


class ScriptedGuardrail:
    """Blocks calls whose `user` is `block-me`, allows (and says so) the rest."""

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        if getattr(call.request, "user", None) == "block-me":
            call.record.verdicts.append(Verdict("pii", "block"))
            raise PermissionDeniedError("blocked by guardrail 'pii'")
        call.record.verdicts.append(Verdict("pii", "allow"))
        async for chunk in call_next(call):
            yield chunk


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Observed:
    thread: GatewayThread
    gateway: Gateway
    telemetry: Telemetry
    spans: InMemorySpanExporter
    client: openai.OpenAI

    @property
    def url(self) -> str:
        return self.thread.url

    def metrics(self, token: str | None = None) -> Samples:
        """Every sample of the exposition, by (sample name, labels)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(self.url + "/metrics", headers=headers, timeout=5)
        response.raise_for_status()
        return samples(response.text)


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def build_observed(settings: Settings, telemetry_settings: TelemetrySettings) -> Observed:
    settings = settings.model_copy(update={"telemetry": telemetry_settings})
    spans = InMemorySpanExporter()
    telemetry = Telemetry(telemetry_settings, settings.models, span_exporter=spans)
    stages = telemetry.wrap(
        {"record": telemetry.stage, "limits": ScriptedLimit(), "guardrails": ScriptedGuardrail()}
    )
    gateway = Gateway(settings, stages=stages, components=[telemetry], telemetry=telemetry)
    thread = GatewayThread(settings, gateway=gateway).start()
    client = openai.OpenAI(base_url=thread.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    return Observed(thread, gateway, telemetry, spans, client)


@pytest.fixture
def observed(upstream: FakeOpenAI) -> Iterator[Observed]:
    telemetry = TelemetrySettings(tracing=TracingSettings(enabled=True))
    server = build_observed(gateway_settings(upstream.base_url), telemetry)
    yield server
    server.thread.stop()
