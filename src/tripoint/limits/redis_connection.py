"""The Redis client of the limits store, and the gateway component that owns it."""

from __future__ import annotations

import redis.asyncio as aioredis

from tripoint.config.limits import RedisStore


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
