"""What a call is measured against: the meters that apply to it, and how much it asks for.

A meter is one counter with one limit: a rolling 60-second window (requests or tokens), a
count of calls in flight, or a spend budget for a period. Every meter that applies must admit
the call, all at once or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from tripoint.config.limits import LimitSpec, LimitsSettings
from tripoint.limits.prices import nano_usd
from tripoint.pipeline.call import Principal

WINDOW = 60  # seconds in a rate window, kept as one-second buckets


class Kind(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"
    INPUT_TOKENS = "input_tokens"
    OUTPUT_TOKENS = "output_tokens"
    CONCURRENT = "concurrent"
    BUDGET = "budget"


_WINDOWED = frozenset({Kind.REQUESTS, Kind.TOKENS, Kind.INPUT_TOKENS, Kind.OUTPUT_TOKENS})


@dataclass(frozen=True, slots=True)
class Meter:
    key: str  # the counter's name in the store
    kind: Kind
    limit: int  # calls, tokens, or nano-dollars
    scope: str  # who it limits, for messages: "team 'red'"
    name: str  # the config field: "requests_per_minute"
    period_end: float | None = None  # budgets: when the period's spend resets (epoch seconds)
    window: int = WINDOW  # windows: seconds (shorter only in tests)
    # read several times per call by the stores: a field, not a property (hashing an enum
    # member runs Python code)
    windowed: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "windowed", self.kind in _WINDOWED)


@dataclass(frozen=True, slots=True)
class Demand:
    """What one call reserves (the worst case) or, at settlement, what it actually used."""

    input_tokens: int
    output_tokens: int
    cost_nano: int

    def amount(self, meter: Meter) -> int:
        match meter.kind:
            case Kind.REQUESTS | Kind.CONCURRENT:
                return 1
            case Kind.TOKENS:
                return self.input_tokens + self.output_tokens
            case Kind.INPUT_TOKENS:
                return self.input_tokens
            case Kind.OUTPUT_TOKENS:
                return self.output_tokens
            case Kind.BUDGET:
                return self.cost_nano


def configured(settings: LimitsSettings) -> bool:
    specs = [
        settings.defaults,
        *settings.orgs.values(),
        *settings.teams.values(),
        *settings.keys.values(),
        *settings.users.values(),
        *settings.models.values(),
    ]
    return any(spec.model_dump(exclude_none=True) for spec in specs)


def tightest(*specs: LimitSpec | None) -> LimitSpec | None:
    """One spec holding, field by field, the lowest of the given limits (every one applies)."""
    given = [spec for spec in specs if spec is not None]
    if len(given) <= 1:  # the usual case, on the hot path: nothing to merge
        return given[0] if given else None
    values: dict[str, object] = {}
    for spec in given:
        for name, limit in spec.model_dump(exclude_none=True).items():
            values[name] = min(limit, values.get(name, limit))
    return LimitSpec.model_construct(**values)  # type: ignore[arg-type]  # validated fields


def fallback(spec: LimitSpec | None, defaults: LimitSpec) -> LimitSpec:
    """The caller's own limits, with `defaults` for every field they leave unset."""
    if spec is None:
        return defaults
    if not defaults.model_fields_set:
        return spec
    return defaults.model_copy(update=spec.model_dump(exclude_none=True))


def meters_for(
    settings: LimitsSettings, principal: Principal, model: str, now: datetime | None = None
) -> list[Meter]:
    """Every meter that applies to this caller and model, outermost scope first:
    org > team > key > user > model. At each scope the config's and the admin API's limits
    both apply (the lower of the two, field by field); one counter per scope and field."""
    now = now or datetime.now(UTC)
    stored = principal.limits
    scopes: list[tuple[str, str, LimitSpec | None]] = []
    if org := principal.org_label:
        spec = tightest(settings.orgs.get(org), stored.org)
        scopes.append((f"org:{org}", f"org {org!r}", spec))
    if team := principal.team_label:
        spec = tightest(settings.teams.get(team), stored.team)
        scopes.append((f"team:{team}", f"team {team!r}", spec))
    user = tightest(settings.users.get(principal.id), stored.user)
    if principal.key_id:
        key = tightest(settings.keys.get(principal.key_id), stored.key)
        scopes.append((f"key:{principal.key_id}", "this key", fallback(key, settings.defaults)))
        if principal.id != principal.key_id:
            scopes.append((f"user:{principal.id}", f"user {principal.id!r}", user))
    else:  # a token's subject (or an open gateway's anonymous caller) is the caller itself
        scopes.append(
            (f"user:{principal.id}", f"user {principal.id!r}", fallback(user, settings.defaults))
        )
    if model in settings.models:
        scopes.append((f"model:{model}", f"model {model!r}", settings.models[model]))
    return [
        meter
        for key, scope, spec in scopes
        if spec is not None
        for meter in meters_of(key, scope, spec, now)
    ]


def meters_of(key: str, scope: str, spec: LimitSpec, now: datetime) -> list[Meter]:
    """The meters one scope's spec defines."""
    meters: list[Meter] = []
    windows = [
        (Kind.REQUESTS, "requests_per_minute", spec.requests_per_minute),
        (Kind.TOKENS, "tokens_per_minute", spec.tokens_per_minute),
        (Kind.INPUT_TOKENS, "input_tokens_per_minute", spec.input_tokens_per_minute),
        (Kind.OUTPUT_TOKENS, "output_tokens_per_minute", spec.output_tokens_per_minute),
    ]
    for kind, name, limit in windows:
        if limit is not None:
            meters.append(Meter(f"{key}:{kind.value}", kind, limit, scope, name))
    if spec.max_concurrent is not None:
        meters.append(
            Meter(
                f"{key}:concurrent", Kind.CONCURRENT, spec.max_concurrent, scope, "max_concurrent"
            )
        )
    if spec.budget_usd_per_day is not None:
        period = now.strftime("%Y-%m-%d")
        meters.append(
            Meter(
                f"{key}:budget:{period}",
                Kind.BUDGET,
                nano_usd(spec.budget_usd_per_day),
                scope,
                "budget_usd_per_day",
                _next_day(now),
            )
        )
    if spec.budget_usd_per_month is not None:
        period = now.strftime("%Y-%m")
        meters.append(
            Meter(
                f"{key}:budget:{period}",
                Kind.BUDGET,
                nano_usd(spec.budget_usd_per_month),
                scope,
                "budget_usd_per_month",
                _next_month(now),
            )
        )
    if spec.budget_usd_total is not None:
        meters.append(
            Meter(
                f"{key}:budget:total",
                Kind.BUDGET,
                nano_usd(spec.budget_usd_total),
                scope,
                "budget_usd_total",
            )
        )
    return meters


def _next_day(now: datetime) -> float:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp() + 86_400


def _next_month(now: datetime) -> float:
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
    return first.replace(year=year, month=month).timestamp()
