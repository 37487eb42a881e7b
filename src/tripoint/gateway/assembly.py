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
    return Gateway(settings, stages=stages, components=components)
