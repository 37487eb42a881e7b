"""Build the limits stage and its components from settings."""

from __future__ import annotations

import redis.asyncio as aioredis

from tripoint.config.limits import LimitsSettings, RedisStore
from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import configured
from tripoint.limits.outbound import OutboundQuota
from tripoint.limits.prices import PriceTable, packaged_prices
from tripoint.limits.redis_store import RedisLimitStore
from tripoint.limits.resilient import ResilientStore
from tripoint.limits.stage import Limits
from tripoint.limits.store import LimitStore
from tripoint.limits.tokens import TokenCounter
from tripoint.pipeline.component import Component


class RedisConnection:
    """A gateway component owning the Redis client; readiness pings it."""

    name = "redis"

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def start(self) -> None:
        return None  # connect lazily: an unreachable Redis must not stop the gateway starting

    async def close(self) -> None:
        await self.client.aclose()

    async def ready(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (OSError, TimeoutError, aioredis.RedisError):
            return False


def redis_client(config: RedisStore) -> aioredis.Redis:
    """A pooled client; beyond `max_connections` calls wait (briefly) instead of failing."""
    pool = aioredis.BlockingConnectionPool.from_url(
        config.url.get_secret_value(),
        max_connections=config.max_connections,
        timeout=config.timeout * 10,
        socket_timeout=config.timeout,
        socket_connect_timeout=config.timeout,
    )
    return aioredis.Redis(connection_pool=pool)


def build_limits(
    settings: LimitsSettings, *, stored: bool = False
) -> tuple[Limits, OutboundQuota | None, list[Component]]:
    """The stage, the backends' outbound quota (if any), and the components the gateway
    must start (token counter, Redis). `stored`: limits may also be set through the admin API."""
    counter = TokenCounter()
    wanted = configured(settings) or bool(settings.backends) or stored
    components: list[Component] = [counter] if wanted else []
    store: LimitStore
    if isinstance(settings.store, RedisStore):
        client = redis_client(settings.store)
        components.append(RedisConnection(client))
        store = ResilientStore(RedisLimitStore(client), settings.store.replicas)
    else:
        store = MemoryLimitStore()
    prices = PriceTable(packaged_prices(), settings.prices)
    quota = OutboundQuota(settings, store, counter) if settings.backends else None
    return Limits(settings, store, counter, prices), quota, components
