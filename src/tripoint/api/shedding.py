"""Load shedding: when the gateway itself is overloaded, reject inference fast with 503
instead of making every caller slow. Health, readiness and metrics are never shed."""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from tripoint.config.routing import Shedding

_SHED_BODY = orjson.dumps(
    {
        "error": {
            "message": "The gateway is overloaded; retry shortly.",
            "type": "service_unavailable",
            "param": None,
            "code": "overloaded",
        }
    }
)
_INTERVAL = 0.05


class LoopLagMonitor:
    """A gateway component measuring how late the event loop wakes a sleeper."""

    name = "loop_lag"

    def __init__(self) -> None:
        self.lag = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._measure(), name="loop-lag")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ready(self) -> bool:
        return True

    async def _measure(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(_INTERVAL)
            late = time.perf_counter() - started - _INTERVAL
            self.lag = max(late, self.lag * 0.5)  # rises at once, decays over a few ticks


class SheddingMiddleware:
    def __init__(self, app: ASGIApp, policy: Shedding, monitor: LoopLagMonitor) -> None:
        self.app = app
        self._policy = policy
        self._monitor = monitor
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/v1/", "/v2/")):
            await self.app(scope, receive, send)
            return
        if self._overloaded():
            await _reject(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _overloaded(self) -> bool:
        limit, lag = self._policy.max_in_flight, self._policy.max_loop_lag
        return (limit is not None and self.in_flight >= limit) or (
            lag is not None and self._monitor.lag > lag
        )


async def _reject(send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"retry-after", b"1")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": _SHED_BODY})
