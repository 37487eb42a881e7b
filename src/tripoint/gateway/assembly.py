"""Build the gateway from settings: the one place that decides which components and stages
exist. Each control (identity, limits, guardrails, governance, telemetry) adds its part here.
"""

from __future__ import annotations

from tripoint.config.schema import Settings
from tripoint.gateway.gateway import Gateway
from tripoint.limits.assembly import build_limits
from tripoint.pipeline.component import Component
from tripoint.pipeline.stage import Stage
from tripoint.routing.cache import MemoryCacheStore, ResponseCache
from tripoint.routing.health import HealthChecker


def assemble(settings: Settings) -> Gateway:
    components: list[Component] = []
    stages: dict[str, Stage] = {}
    stages["limits"], quota, limit_components = build_limits(settings.limits)
    components += limit_components
    cached = {model: route.cache for model, route in settings.models.items() if route.cache.enabled}
    if cached:
        stages["cache"] = ResponseCache(
            cached, MemoryCacheStore(settings.routing.cache_max_entries)
        )
    gateway = Gateway(settings, stages=stages, components=components, quota=quota)
    checks = {  # self-hosted servers have a base URL whose origin serves /health, /metrics
        name: (str(getattr(backend, "base_url", "")), backend.health)
        for name, backend in settings.backends.items()
        if backend.health is not None and getattr(backend, "base_url", None)
    }
    gateway.components += (HealthChecker(gateway.fleet, checks),)
    return gateway
