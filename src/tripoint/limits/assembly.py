"""Build the limits stage and its components from settings."""

from __future__ import annotations

from tripoint.config.limits import LimitsSettings, RedisStore
from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import configured
from tripoint.limits.outbound import OutboundQuota
from tripoint.limits.prices import PriceTable, packaged_prices
from tripoint.limits.stage import Limits
from tripoint.limits.store import LimitStore
from tripoint.pipeline.component import Component
from tripoint.providers.tokens import TokenCounter


def build_limits(
    settings: LimitsSettings, counter: TokenCounter, *, stored: bool = False
) -> tuple[Limits, OutboundQuota | None, list[Component]]:
    """The stage, the backends' outbound quota (if any), and the components the gateway
    must start (the token counter when limits count tokens, Redis). `stored`: limits may
    also be set through the admin API."""
    wanted = configured(settings) or bool(settings.backends) or stored
    components: list[Component] = [counter] if wanted else []
    store: LimitStore
    if isinstance(settings.store, RedisStore):
        # redis-py (about 60 modules, 0.3 s) loads only when a Redis store is configured
        from tripoint.limits.redis_connection import RedisConnection, redis_client  # noqa: PLC0415
        from tripoint.limits.redis_store import RedisLimitStore  # noqa: PLC0415
        from tripoint.limits.resilient import ResilientStore  # noqa: PLC0415

        client = redis_client(settings.store)
        components.append(RedisConnection(client))
        store = ResilientStore(RedisLimitStore(client), settings.store.replicas)
    else:
        store = MemoryLimitStore()
    prices = PriceTable(packaged_prices(), settings.prices)
    quota = OutboundQuota(settings, store, counter) if settings.backends else None
    return Limits(settings, store, counter, prices), quota, components
