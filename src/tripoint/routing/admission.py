"""Admission control for a self-hosted backend: bounded in-flight calls and a bounded
priority queue (interactive before batch), instead of piling requests onto a busy GPU."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tripoint.config.routing import Admission
from tripoint.errors import ServiceUnavailableError


class SaturatedError(ServiceUnavailableError):
    """This backend's in-flight slots and queue are full; Retry-After estimates the wait."""


class AdmissionGate:
    def __init__(self, backend: str, policy: Admission) -> None:
        self._backend = backend
        self._policy = policy
        self._in_flight = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._service_time = 1.0  # EWMA of seconds a call holds a slot, for Retry-After

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def queued(self) -> int:
        return sum(1 for *_, f in self._waiters if not f.done())

    @asynccontextmanager
    async def slot(self, priority: int) -> AsyncIterator[None]:
        """Hold one in-flight slot for the whole call (a stream holds it to its end)."""
        await self._acquire(priority)
        started = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            self._service_time += 0.2 * (elapsed - self._service_time)
            self._release()

    async def _acquire(self, priority: int) -> None:
        if self._in_flight < self._policy.max_in_flight and not self.queued:
            self._in_flight += 1
            return
        if self.queued >= self._policy.queue:
            raise self._saturated()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await asyncio.wait_for(asyncio.shield(future), self._policy.queue_timeout)
        except TimeoutError:
            if future.done() and not future.cancelled():
                self._release()  # the slot arrived as we gave up: hand it on
            future.cancel()
            raise self._saturated() from None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()
            future.cancel()
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the slot passes straight to the next waiter
                return
        self._in_flight -= 1

    def _saturated(self) -> SaturatedError:
        wait = (self.queued + 1) * self._service_time / self._policy.max_in_flight
        return SaturatedError(
            f"backend {self._backend!r} is saturated; retry later", retry_after=max(1.0, wait)
        )
