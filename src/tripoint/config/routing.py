"""Config for resilient routing: strategies, retries, breakers, admission, cache, shedding."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
)

Strategy = Literal["priority", "weighted", "least_outstanding", "latency"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Strict):
    """Per model. Total upstream attempts per request are at most `1 + attempts`, whatever
    the number of targets; each failure moves to the next target in strategy order."""

    attempts: NonNegativeInt | None = None  # default: one attempt per target
    backoff: NonNegativeFloat = 0.05  # first wait before re-trying a target, doubled each time
    max_backoff: PositiveFloat = 5.0
    max_retry_after: PositiveFloat = 30.0  # a longer upstream Retry-After is not waited for
    retry_after_send: bool = False  # retry even when the request may have reached the upstream


class CachePolicy(_Strict):
    """Opt-in exact-match response cache, per model, keyed per team."""

    enabled: bool = False
    ttl: PositiveFloat = 300.0
    force: bool = False  # cache sampled (temperature > 0) answers too


class Breaker(_Strict):
    """Per backend: open after `failures` consecutive failures, or when at least `min_calls`
    calls in `window` seconds failed at `error_rate` or more; probe again after `cooldown`."""

    failures: PositiveInt = 5
    error_rate: float = Field(default=0.5, gt=0, le=1)
    min_calls: PositiveInt = 20
    window: PositiveFloat = 30.0
    cooldown: PositiveFloat = 10.0


class Admission(_Strict):
    """Per backend, for self-hosted servers: at most `max_in_flight` calls at once, then a
    bounded queue (interactive before batch); beyond it, 503 with Retry-After."""

    max_in_flight: PositiveInt
    queue: NonNegativeInt = 0
    queue_timeout: PositiveFloat = 30.0


class HealthCheck(_Strict):
    """Per backend, optional: poll `path` (GET, 2xx = healthy) and, when `metrics_path` is set,
    read the server's load (vLLM / llama.cpp Prometheus metrics) to prefer the least loaded."""

    path: str | None = "/health"
    metrics_path: str | None = None
    interval: PositiveFloat = 5.0
    timeout: PositiveFloat = 2.0


class Shedding(_Strict):
    """Gateway-wide: reject fast with 503 instead of degrading every caller."""

    max_in_flight: PositiveInt | None = None
    max_loop_lag: PositiveFloat | None = None  # seconds of event-loop lag that mean overload


class RetryBudget(_Strict):
    """Retries in flight may be at most `ratio` of requests in flight (or `min_concurrency`)."""

    ratio: float = Field(default=0.2, ge=0, le=1)
    min_concurrency: NonNegativeInt = 3


class RoutingSettings(_Strict):
    retry_budget: RetryBudget = RetryBudget()
    shedding: Shedding = Shedding()
    cache_max_entries: PositiveInt = 10_000
