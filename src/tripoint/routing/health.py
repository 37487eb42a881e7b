"""Active health checks for self-hosted backends, and their load read from their /metrics.

A backend whose health path stops answering 2xx is skipped by the router until it recovers;
vLLM's and llama.cpp's queue gauges feed the `least_outstanding` strategy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp

from tripoint.config.routing import HealthCheck
from tripoint.routing.fleet import Fleet

log = logging.getLogger("tripoint.routing")

# gauges of requests waiting on the server itself
_WAITING = re.compile(
    r"^(vllm:num_requests_waiting|llamacpp:requests_deferred|tgi_queue_size)(?:\{[^}]*\})?\s+"
    r"([0-9.eE+-]+)\s*$",
    re.MULTILINE,
)


def waiting_requests(exposition: str) -> float:
    """Sum of the known 'requests waiting' gauges in a Prometheus text exposition."""
    total = 0.0
    for match in _WAITING.finditer(exposition):
        with contextlib.suppress(ValueError):
            total += float(match.group(2))
    return total


class HealthChecker:
    """A gateway component: one polling task per backend with a `health` section."""

    name = "health_checks"

    def __init__(self, fleet: Fleet, checks: Mapping[str, tuple[str, HealthCheck]]) -> None:
        self._fleet = fleet
        self._checks = checks  # backend -> (base_url, policy)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if not self._checks:
            return
        self._session = aiohttp.ClientSession()
        self._tasks = [
            asyncio.create_task(self._poll(backend, base_url, policy), name=f"health:{backend}")
            for backend, (base_url, policy) in self._checks.items()
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._session is not None:
            await self._session.close()

    async def ready(self) -> bool:
        return True  # an unhealthy backend is routed around, not a reason to stop serving

    async def _poll(self, backend: str, base_url: str, policy: HealthCheck) -> None:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
        while True:
            healthy, waiting = await self._probe(origin, policy)
            self._fleet.mark_backend(backend, healthy=healthy, remote_waiting=waiting)
            await asyncio.sleep(policy.interval)

    async def _probe(self, origin: str, policy: HealthCheck) -> tuple[bool, float]:
        assert self._session is not None  # noqa: S101 -- started before polling
        timeout = aiohttp.ClientTimeout(total=policy.timeout)
        try:
            healthy = True
            if policy.path:
                async with self._session.get(origin + policy.path, timeout=timeout) as response:
                    healthy = 200 <= response.status < 300
            waiting = 0.0
            if healthy and policy.metrics_path:
                async with self._session.get(origin + policy.metrics_path, timeout=timeout) as r:
                    waiting = waiting_requests(await r.text()) if r.status == 200 else 0.0
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False, 0.0
        return healthy, waiting
