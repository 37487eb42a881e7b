"""The limits stage: reserve the worst case on every meter that applies, then settle to what
the call actually used, whatever its outcome (finished, failed, or abandoned by the client)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tripoint.config.limits import LimitsSettings
from tripoint.errors import RateLimitError
from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import Demand, Kind, Meter, configured, meters_for
from tripoint.limits.prices import PriceTable, nano_usd, usd
from tripoint.limits.store import Admission, LimitStore
from tripoint.pipeline.call import Call
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.providers.tokens import TokenCounter
from tripoint.schema.chunks import Usage

_HEADER_KINDS = {Kind.REQUESTS: "requests", Kind.TOKENS: "tokens"}
_METER_SETS_CACHED = 4096  # (caller, model, day) combinations remembered
_DAY = 86_400


class BudgetExceededError(RateLimitError):
    code = "budget_exceeded"


@dataclass(frozen=True, slots=True)
class _Held:
    meters: tuple[Meter, ...]
    amounts: tuple[int, ...]
    bucket: int


class Limits:
    def __init__(
        self,
        settings: LimitsSettings,
        store: LimitStore,
        counter: TokenCounter,
        prices: PriceTable,
    ) -> None:
        self._settings = settings
        self._metered = configured(settings)  # none in config: meter only callers with stored ones
        self._store = store
        # the in-memory store settles without awaiting: no shielded task per call
        self._local = store if isinstance(store, MemoryLimitStore) else None
        self._counter = counter
        self._prices = prices
        # the meters that apply depend on the caller, the model and the UTC day (budget
        # periods) only: built once per combination, not per call
        self._meter_sets: dict[tuple[object, ...], tuple[Meter, ...]] = {}

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        metered = self._metered or call.principal.limits  # config, or set on this caller
        meters = self._meters(call) if metered else ()
        demand = self._worst_case(call) if meters else Demand(0, 0, 0)
        held = await self._reserve(call, meters, demand) if meters else None
        usage: Usage | None = None
        answered = False
        try:
            async for chunk in call_next(call):
                answered = True
                usage = chunk.usage or usage
                yield chunk
        finally:
            actual = self._actual(call, usage, demand, answered=answered)
            call.record.cost = usd(actual.cost_nano)
            if held is not None and self._local is not None:
                used = [actual.amount(m) for m in held.meters]
                self._local.settle_now(
                    held.meters, held.amounts, used, call.request_id, held.bucket
                )
            elif held is not None:
                # shielded: a cancelled client must not leave the reservation held
                await asyncio.shield(self._settle(held, actual, call.request_id))

    def _meters(self, call: Call) -> tuple[Meter, ...]:
        principal = call.principal
        now = time.time()
        # the admin-set limits travel with the principal: a changed limit is a new key
        key = (
            principal.org_label,
            principal.team_label,
            principal.key_id,
            principal.id,
            principal.limits,
            call.model,
            int(now // _DAY),
        )
        meters = self._meter_sets.get(key)
        if meters is None:
            if len(self._meter_sets) >= _METER_SETS_CACHED:
                self._meter_sets.clear()
            when = datetime.fromtimestamp(now, UTC)
            meters = tuple(meters_for(self._settings, principal, call.model, when))
            self._meter_sets[key] = meters
        return meters

    async def _reserve(self, call: Call, meters: tuple[Meter, ...], demand: Demand) -> _Held:
        amounts = tuple(demand.amount(m) for m in meters)
        if self._local is not None:
            admission = self._local.reserve_now(meters, amounts, call.request_id)
        else:
            admission = await self._store.reserve(meters, amounts, call.request_id)
        if not admission.admitted:
            call.record.limited = meters[admission.denied or 0].kind.value  # for metrics
            raise _refusal(meters, admission)
        call.record.response_headers.update(_rate_headers(meters, admission))
        return _Held(meters, amounts, admission.bucket)

    async def _settle(self, held: _Held, actual: Demand, lease: str) -> None:
        used = [actual.amount(m) for m in held.meters]
        await self._store.settle(held.meters, held.amounts, used, lease, held.bucket)

    def _worst_case(self, call: Call) -> Demand:
        prompt, output = self._counter.worst_case(
            call.request, self._settings.default_max_output_tokens
        )
        worst = max(
            (self._prices.price(t).cost(Usage(prompt, output)) for t in call.targets),
            default=Decimal(0),
        )
        return Demand(prompt, output, nano_usd(worst))

    def _actual(self, call: Call, usage: Usage | None, worst: Demand, *, answered: bool) -> Demand:
        if call.record.cache_hit or (usage is None and not answered):
            return Demand(0, 0, 0)  # nothing reached an upstream, or nothing was used
        if usage is None:
            return worst  # an answer started but never reported usage: keep the estimate
        target = call.record.target
        cost = self._prices.price(target).cost(usage) if target is not None else Decimal(0)
        return Demand(usage.prompt_tokens, usage.completion_tokens, nano_usd(cost))


def _refusal(meters: Sequence[Meter], admission: Admission) -> RateLimitError:
    meter = meters[admission.denied or 0]
    if admission.retry_after is None and meter.kind is not Kind.BUDGET:
        detail = "this request alone exceeds it"
    elif admission.retry_after is None:
        detail = "the budget is spent"
    else:
        detail = f"retry after {math.ceil(admission.retry_after)} s"
    error = BudgetExceededError if meter.kind is Kind.BUDGET else RateLimitError
    return error(
        f"Limit {meter.name} of {meter.scope} reached ({detail}).",
        retry_after=admission.retry_after,
    )


def _rate_headers(meters: Sequence[Meter], admission: Admission) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers, for the tightest request and token windows."""
    headers: dict[str, str] = {}
    for meter, used in zip(meters, admission.used, strict=False):
        kind = _HEADER_KINDS.get(meter.kind)
        if kind is None:
            continue
        remaining = max(0, meter.limit - used)
        name = f"x-ratelimit-remaining-{kind}"
        if name in headers and int(headers[name]) <= remaining:
            continue
        headers[f"x-ratelimit-limit-{kind}"] = str(meter.limit)
        headers[name] = str(remaining)
        headers[f"x-ratelimit-reset-{kind}"] = "60s" if remaining == 0 else "1s"
    return headers
