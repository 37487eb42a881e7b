"""A circuit breaker per target: stop sending to a target that keeps failing, probe later."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from tripoint.config.routing import Breaker

_BUCKETS = 10  # the error-rate window is kept as this many time buckets: bounded memory


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, policy: Breaker, clock: Callable[[], float] = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False
        self._span = policy.window / _BUCKETS
        self._buckets: deque[list[float]] = deque()  # [start, calls, failures]

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._cooled_down():
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """May a call go to this target now? In half-open, exactly one probe goes through."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if not self._cooled_down():
                return False
            self._state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def success(self) -> None:
        if self._state is not BreakerState.CLOSED:
            self._close()
            return
        self._consecutive = 0
        self._count(failed=False)

    def failure(self) -> None:
        if self._state is not BreakerState.CLOSED:
            self._open()  # the probe failed: wait a whole cooldown again
            return
        self._consecutive += 1
        calls, failures = self._count(failed=True)
        too_many = self._consecutive >= self._policy.failures
        too_often = calls >= self._policy.min_calls and failures / calls >= self._policy.error_rate
        if too_many or too_often:
            self._open()

    def release_probe(self) -> None:
        """A probe that ended without a verdict (cancelled) frees the slot for the next one."""
        self._probing = False

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._policy.cooldown

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probing = False

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._probing = False
        self._buckets.clear()

    def _count(self, *, failed: bool) -> tuple[float, float]:
        now = self._clock()
        while self._buckets and self._buckets[0][0] <= now - self._policy.window:
            self._buckets.popleft()
        if not self._buckets or now - self._buckets[-1][0] >= self._span:
            self._buckets.append([now, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += failed
        return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)
