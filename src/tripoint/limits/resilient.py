"""Redis with the outage behaviour DESIGN.md decided.

When Redis cannot be reached: a call that meets a spend budget fails closed (503), never
multiplied by replicas; rate limits fall back to this replica's local share (limit divided by
the number of replicas) and say so in logs and on the call's record. Settlements that cannot
reach Redis are kept and replayed when it returns (settling is idempotent there).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from tripoint.errors import ServiceUnavailableError
from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import Kind, Meter
from tripoint.limits.redis_store import RedisLimitStore
from tripoint.limits.store import Admission

log = logging.getLogger("tripoint.limits")

_PENDING_MAX = 100_000
_LOG_EVERY = 10.0


@dataclass(frozen=True, slots=True)
class _Settlement:
    meters: tuple[Meter, ...]
    reserved: tuple[int, ...]
    actual: tuple[int, ...]
    lease: str
    bucket: int


class ResilientStore:
    def __init__(self, shared: RedisLimitStore, replicas: int) -> None:
        self._shared = shared
        self._local = MemoryLimitStore(scale=replicas)
        self._pending: deque[_Settlement] = deque(maxlen=_PENDING_MAX)
        self._logged = 0.0
        self.degraded = False

    async def reserve(
        self, meters: Sequence[Meter], amounts: Sequence[int], lease: str
    ) -> Admission:
        try:
            admission = await self._shared.reserve(meters, amounts, lease)
        except (RedisError, OSError, TimeoutError) as exc:
            return self._outage(meters, amounts, lease, exc)
        self.degraded = False
        await self._replay()
        return admission

    async def settle(
        self,
        meters: Sequence[Meter],
        reserved: Sequence[int],
        actual: Sequence[int],
        lease: str,
        bucket: int,
    ) -> None:
        if bucket < 0:  # reserved locally during an outage: the bucket is stored negated
            await self._local.settle(meters, reserved, actual, lease, -bucket)
            return
        settlement = _Settlement(tuple(meters), tuple(reserved), tuple(actual), lease, bucket)
        try:
            await self._send(settlement)
        except (RedisError, OSError, TimeoutError):
            self._pending.append(settlement)

    def _outage(
        self, meters: Sequence[Meter], amounts: Sequence[int], lease: str, exc: BaseException
    ) -> Admission:
        self.degraded = True
        now = time.monotonic()
        if now - self._logged > _LOG_EVERY:
            self._logged = now
            log.warning(
                "limit store unreachable: budgets fail closed, rate limits local",
                extra={"error": type(exc).__name__},
            )
        if any(m.kind is Kind.BUDGET for m in meters):
            raise ServiceUnavailableError(
                "Spend budgets cannot be checked right now; retry shortly.", retry_after=1.0
            ) from exc
        admission = self._local.reserve_now(meters, amounts, lease)
        return Admission(
            admission.admitted,
            admission.denied,
            admission.retry_after,
            admission.used,
            -admission.bucket,
        )

    async def _replay(self) -> None:
        """Settlements kept during an outage; stops quietly if Redis fails again."""
        try:
            while self._pending:
                await self._send(self._pending[0])
                self._pending.popleft()
        except (RedisError, OSError, TimeoutError):
            return

    async def _send(self, s: _Settlement) -> None:
        await self._shared.settle(s.meters, s.reserved, s.actual, s.lease, s.bucket)
