"""Config for limits and budgets: who may use how much, and where the counters live."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from tripoint.config.secrets import Secret


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitSpec(_Strict):
    """Limits for one scope. Unset means unlimited. Windows are rolling 60 s windows."""

    requests_per_minute: PositiveInt | None = None
    tokens_per_minute: PositiveInt | None = None
    input_tokens_per_minute: PositiveInt | None = None
    output_tokens_per_minute: PositiveInt | None = None
    max_concurrent: PositiveInt | None = None
    budget_usd_per_day: Annotated[Decimal, Field(gt=0)] | None = None
    budget_usd_per_month: Annotated[Decimal, Field(gt=0)] | None = None
    budget_usd_total: Annotated[Decimal, Field(gt=0)] | None = None


@dataclass(frozen=True, slots=True)
class GrantedLimits:
    """Limits set through the admin API (kept in the SQL store) for a caller's org, team, key
    and user; they travel with the caller's identity, so they reload with the key cache."""

    org: LimitSpec | None = None
    team: LimitSpec | None = None
    key: LimitSpec | None = None
    user: LimitSpec | None = None

    def __bool__(self) -> bool:
        return any(s is not None for s in (self.org, self.team, self.key, self.user))


NO_LIMITS = GrantedLimits()


class MemoryStore(_Strict):
    type: Literal["memory"] = "memory"


class RedisStore(_Strict):
    """Shared counters for several gateway replicas."""

    type: Literal["redis"]
    url: Secret  # e.g. env:REDIS_URL (redis://host:6379/0); may carry a password
    timeout: PositiveFloat = 0.25  # seconds per Redis call: a slow Redis must not stall calls
    replicas: PositiveInt = 1  # gateway replicas: when Redis is down, each enforces 1/replicas
    max_connections: PositiveInt = 64  # pooled; calls wait briefly for a free connection


class Price(_Strict):
    """USD per one million tokens."""

    input: Annotated[Decimal, Field(ge=0)]
    output: Annotated[Decimal, Field(ge=0)] = Decimal(0)


class LimitsSettings(_Strict):
    store: Annotated[MemoryStore | RedisStore, Field(discriminator="type")] = MemoryStore()
    defaults: LimitSpec = LimitSpec()  # per caller (key or token subject): fields it leaves unset
    orgs: dict[str, LimitSpec] = Field(default_factory=dict)  # by org name, across its teams
    teams: dict[str, LimitSpec] = Field(default_factory=dict)
    keys: dict[str, LimitSpec] = Field(default_factory=dict)  # by key id
    users: dict[str, LimitSpec] = Field(default_factory=dict)  # by principal id
    models: dict[str, LimitSpec] = Field(default_factory=dict)  # per public model, all callers
    backends: dict[str, LimitSpec] = Field(default_factory=dict)  # outbound: the provider quota
    default_max_output_tokens: PositiveInt = 4096  # reserved when a request sets no max_tokens
    prices: dict[str, Price] = Field(default_factory=dict)  # "backend/model" or "model"
