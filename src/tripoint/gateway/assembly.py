"""Build the gateway from settings: the one place that decides which components and stages
exist. Each control (identity, limits, guardrails, governance, telemetry) adds its part here.
"""

from __future__ import annotations

from tripoint.config.schema import Settings
from tripoint.gateway.gateway import Component, Gateway
from tripoint.pipeline.stage import Stage


def assemble(settings: Settings) -> Gateway:
    components: list[Component] = []
    stages: dict[str, Stage] = {}
    if settings.guardrails.checks:
        # the guardrails extra (Presidio, ONNX Runtime) is imported only when configured
        from tripoint.guardrails.engine import GuardrailEngine  # noqa: PLC0415
        from tripoint.guardrails.stage import GuardrailStage  # noqa: PLC0415

        guardrails = GuardrailEngine(settings.guardrails)
        components.append(guardrails)
        stages["guardrails"] = GuardrailStage(guardrails, settings.guardrails)
    return Gateway(settings, stages=stages, components=components)
