"""Limit counters in process memory: the embedded default, exact for one gateway process.

Every operation runs without awaiting, so on one event loop it is atomic: concurrent calls
cannot both pass a limit that only one fits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tripoint.limits.meters import Kind, Meter
from tripoint.limits.store import LEASE_SECONDS, Admission

_SWEEP_EVERY = 1024  # reservations between sweeps of idle counters (bounded memory)


@dataclass(slots=True)
class _Counter:
    buckets: dict[int, int] = field(default_factory=dict)  # windows: second -> amount
    total: int = 0  # windows: the sum of `buckets`, kept as they change
    pruned: int = -1  # windows: the second stale buckets were last dropped at
    spent: int = 0  # budgets: settled spend
    leases: dict[str, tuple[int, float]] = field(default_factory=dict)  # lease -> (amount, exp)
    held: int = 0  # the sum of the leases' amounts, kept as they change
    next_expiry: float = math.inf  # no lease expires before this
    touched: float = 0.0


class MemoryLimitStore:
    def __init__(self, clock: Callable[[], float] = time.time, scale: int = 1) -> None:
        """`scale` divides every limit: a replica's local share while Redis is down."""
        self._clock = clock
        self._scale = scale
        self._counters: dict[str, _Counter] = {}
        self._reservations = 0

    async def reserve(
        self, meters: Sequence[Meter], amounts: Sequence[int], lease: str
    ) -> Admission:
        return self.reserve_now(meters, amounts, lease)

    def reserve_now(self, meters: Sequence[Meter], amounts: Sequence[int], lease: str) -> Admission:
        now = self._clock()
        second = int(now)
        used: list[int] = []
        for index, (meter, amount) in enumerate(zip(meters, amounts, strict=True)):
            counter = self._counter(meter.key, now)
            current = self._usage(meter, counter, second, now)
            limit = max(1, meter.limit // self._scale)
            if current + amount > limit:
                return Admission(
                    False, index, self._retry_after(meter, counter, amount, limit, now)
                )
            used.append(current + amount)
        for meter, amount in zip(meters, amounts, strict=True):
            counter = self._counters[meter.key]
            if meter.windowed:
                counter.buckets[second] = counter.buckets.get(second, 0) + amount
                counter.total += amount
            else:
                expiry = now + LEASE_SECONDS
                replaced = counter.leases.get(lease)
                counter.leases[lease] = (amount, expiry)
                counter.held += amount - (replaced[0] if replaced is not None else 0)
                counter.next_expiry = min(counter.next_expiry, expiry)
        self._sweep(now)
        return Admission(True, used=tuple(used), bucket=second)

    async def settle(
        self,
        meters: Sequence[Meter],
        reserved: Sequence[int],
        actual: Sequence[int],
        lease: str,
        bucket: int,
    ) -> None:
        self.settle_now(meters, reserved, actual, lease, bucket)

    def settle_now(
        self,
        meters: Sequence[Meter],
        reserved: Sequence[int],
        actual: Sequence[int],
        lease: str,
        bucket: int,
    ) -> None:
        """`settle` without awaiting: callers on the event loop need no task to finish it."""
        now = self._clock()
        for meter, held, used in zip(meters, reserved, actual, strict=True):
            counter = self._counters.get(meter.key)
            if counter is None:
                continue
            if meter.windowed:
                if bucket in counter.buckets:  # still inside the window: correct it
                    counter.buckets[bucket] += used - held
                    counter.total += used - held
            elif (released := counter.leases.pop(lease, None)) is not None:
                counter.held -= released[0]
                if meter.kind is Kind.BUDGET:
                    counter.spent += used
            counter.touched = now

    def _counter(self, key: str, now: float) -> _Counter:
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = _Counter()
        counter.touched = now
        return counter

    @staticmethod
    def _usage(meter: Meter, counter: _Counter, second: int, now: float) -> int:
        if meter.windowed:
            if counter.pruned != second:  # at most once a second per counter
                counter.pruned = second
                # keep window + 1 buckets: any rolling window ending now lies inside them
                oldest = second - meter.window
                for stale in [s for s in counter.buckets if s < oldest]:
                    counter.total -= counter.buckets.pop(stale)
            return counter.total
        if now >= counter.next_expiry:  # rare: leases are settled long before they expire
            for expired in [k for k, (_, exp) in counter.leases.items() if exp <= now]:
                counter.held -= counter.leases.pop(expired)[0]
            counter.next_expiry = min((exp for _, exp in counter.leases.values()), default=math.inf)
        if meter.kind is Kind.BUDGET:
            return counter.held + counter.spent
        return len(counter.leases)

    @staticmethod
    def _retry_after(
        meter: Meter, counter: _Counter, amount: int, limit: int, now: float
    ) -> float | None:
        if amount > limit:
            return None  # this request alone is over the limit: waiting will not help
        if meter.windowed:
            excess = sum(counter.buckets.values()) + amount - limit
            for start in sorted(counter.buckets):
                excess -= counter.buckets[start]
                if excess <= 0:
                    return max(0.001, start + meter.window + 1 - now)
            return float(meter.window)
        if meter.kind is Kind.BUDGET:
            return None if meter.period_end is None else max(1.0, meter.period_end - now)
        return 1.0  # concurrency: a slot frees when a call ends

    def _sweep(self, now: float) -> None:
        self._reservations += 1
        if self._reservations % _SWEEP_EVERY:
            return
        idle = [
            k
            for k, c in self._counters.items()
            if now - c.touched > LEASE_SECONDS and not c.leases and not c.spent
        ]
        for key in idle:
            del self._counters[key]
