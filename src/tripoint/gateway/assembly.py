"""Build the gateway from settings: the one place that decides which components and stages
exist. Each control (identity, limits, guardrails, governance, telemetry) adds its part here.
"""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SpanExporter

from tripoint.config.schema import Settings
from tripoint.gateway.gateway import Component, Gateway
from tripoint.pipeline.sink import RecordSink
from tripoint.pipeline.stage import Stage
from tripoint.telemetry.observer import Telemetry


def assemble(settings: Settings, *, span_exporter: SpanExporter | None = None) -> Gateway:
    """`span_exporter` receives finished spans (tests, embedders); else OTLP when configured."""
    components: list[Component] = []
    stages: dict[str, Stage] = {}
    sinks: list[RecordSink] = []  # the usage ledger and the audit trail add theirs here
    telemetry = Telemetry(settings.telemetry, settings.models, sinks, span_exporter=span_exporter)
    components.insert(0, telemetry)  # first up, last down: it records the others' calls
    stages["record"] = telemetry.stage
    # Every stage is added above this line: wrapping gives each its own span when traced.
    return Gateway(
        settings, stages=telemetry.wrap(stages), components=components, telemetry=telemetry
    )
