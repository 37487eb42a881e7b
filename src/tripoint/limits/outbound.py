"""Outbound quotas per backend (`limits.backends`): the provider's own rate limits, kept by
the gateway so calls wait briefly or move to another target instead of meeting a 429."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from tripoint.config.limits import LimitsSettings
from tripoint.errors import RateLimitError
from tripoint.limits.meters import Demand, Kind, Meter, meters_of
from tripoint.limits.store import LimitStore
from tripoint.pipeline.call import Call
from tripoint.pipeline.quota import QuotaTicket
from tripoint.providers.target import Target
from tripoint.providers.tokens import TokenCounter
from tripoint.schema.chunks import Usage

MAX_WAIT = 2.0  # seconds a call waits for its backend's quota before trying another target


@dataclass(frozen=True, slots=True)
class _Ticket:
    meters: tuple[Meter, ...]
    amounts: tuple[int, ...]
    lease: str
    bucket: int


class OutboundQuota:
    def __init__(self, settings: LimitsSettings, store: LimitStore, counter: TokenCounter) -> None:
        self._settings = settings
        self._store = store
        self._counter = counter
        now = datetime.now(UTC)
        self._meters = {  # rates and concurrency; spend budgets are for callers, not backends
            name: tuple(
                m
                for m in meters_of(f"backend:{name}", f"backend {name!r}", spec, now)
                if m.kind is not Kind.BUDGET
            )
            for name, spec in settings.backends.items()
        }

    async def acquire(self, call: Call, target: Target) -> _Ticket | None:
        meters = self._meters.get(target.backend.name)
        if not meters:
            return None
        demand = self._demand(call)
        amounts = tuple(demand.amount(m) for m in meters)
        lease = uuid.uuid4().hex
        waited = 0.0
        while True:
            admission = await self._store.reserve(meters, amounts, lease)
            if admission.admitted:
                return _Ticket(meters, amounts, lease, admission.bucket)
            retry = admission.retry_after
            if retry is None or waited + retry > MAX_WAIT:
                meter = meters[admission.denied or 0]
                raise RateLimitError(
                    f"Backend {target.backend.name!r} is at its {meter.name} quota.",
                    retry_after=retry,
                )
            await asyncio.sleep(retry)
            waited += retry

    async def release(self, ticket: QuotaTicket, usage: Usage | None) -> None:
        if not isinstance(ticket, _Ticket):
            raise TypeError("not a ticket of this quota")
        if usage is None:
            actual = list(ticket.amounts)
        else:
            demand = Demand(usage.prompt_tokens, usage.completion_tokens, 0)
            actual = [demand.amount(m) for m in ticket.meters]
        await self._store.settle(ticket.meters, ticket.amounts, actual, ticket.lease, ticket.bucket)

    def _demand(self, call: Call) -> Demand:
        prompt, output = self._counter.worst_case(
            call.request, self._settings.default_max_output_tokens
        )
        return Demand(prompt, output, 0)
