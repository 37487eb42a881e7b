"""When to try again and how long to wait: backoff with full jitter, Retry-After, a budget."""

from __future__ import annotations

import random

from tripoint.config.routing import RetryBudget, RetryPolicy
from tripoint.errors import UpstreamError
from tripoint.routing.fleet import Fleet


def may_retry(error: UpstreamError, policy: RetryPolicy) -> bool:
    """Worth another attempt (here or elsewhere), and safe: a request the upstream may have
    processed is not repeated unless the operator said so."""
    if error.maybe_processed and not policy.retry_after_send:
        return False
    return error.retryable or error.upstream_status in (401, 403, 404)


def wait_before(
    error: UpstreamError | None,
    same_target: bool,
    tries: int,
    policy: RetryPolicy,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before this attempt; None means the wait is too long to be worth it."""
    if error is None or not same_target:
        return 0.0
    ceiling = min(policy.max_backoff, policy.backoff * 2.0 ** max(0, tries - 1))
    backoff: float = ceiling * rng.random()
    if error.retry_after is None:
        return backoff
    if error.retry_after > policy.max_retry_after:
        return None
    return max(backoff, float(error.retry_after))


def budget_allows(fleet: Fleet, budget: RetryBudget) -> bool:
    """Envoy's retry budget: retries in flight stay under a share of requests in flight."""
    allowed = max(budget.min_concurrency, budget.ratio * fleet.active_requests)
    return fleet.active_retries < allowed
