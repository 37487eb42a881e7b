"""The circuit breaker opens, half-opens and closes on schedule (a fake clock drives it)."""

from __future__ import annotations

from tripoint.config.routing import Breaker
from tripoint.routing.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **policy: float) -> CircuitBreaker:
    return CircuitBreaker(Breaker(**policy), clock)  # type: ignore[arg-type]


def test_opens_after_consecutive_failures() -> None:
    clock = Clock()
    cb = breaker(clock, failures=3)

    for _ in range(2):
        cb.failure()
    assert cb.allow()
    cb.failure()

    assert cb.state is BreakerState.OPEN
    assert not cb.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    cb = breaker(Clock(), failures=3)

    cb.failure()
    cb.failure()
    cb.success()
    cb.failure()
    cb.failure()

    assert cb.state is BreakerState.CLOSED


def test_opens_on_error_rate_over_the_window() -> None:
    clock = Clock()
    cb = breaker(clock, failures=100, error_rate=0.5, min_calls=10, window=30)

    for i in range(10):
        clock.now += 1
        (cb.failure if i % 2 else cb.success)()

    assert cb.state is BreakerState.OPEN


def test_old_calls_leave_the_window() -> None:
    clock = Clock()
    cb = breaker(clock, failures=100, error_rate=0.5, min_calls=10, window=30)
    for _ in range(9):
        cb.failure()
        cb.success()  # keep consecutive low; 50% failures, but only 18 calls...
    clock.now += 60  # ...that have all expired

    cb.failure()

    assert cb.state is BreakerState.CLOSED


def test_half_open_lets_exactly_one_probe_through_after_cooldown() -> None:
    clock = Clock()
    cb = breaker(clock, failures=1, cooldown=10)
    cb.failure()

    clock.now += 9.9
    assert not cb.allow()
    clock.now += 0.2
    assert cb.state is BreakerState.HALF_OPEN

    assert cb.allow()
    assert not cb.allow()


def test_probe_success_closes_and_probe_failure_reopens() -> None:
    clock = Clock()
    good, bad = breaker(clock, failures=1, cooldown=5), breaker(clock, failures=1, cooldown=5)
    good.failure()
    bad.failure()
    clock.now += 5

    assert good.allow()
    assert bad.allow()
    good.success()
    bad.failure()

    assert good.state is BreakerState.CLOSED
    assert bad.state is BreakerState.OPEN
    clock.now += 4.9
    assert not bad.allow()


def test_a_cancelled_probe_frees_the_slot() -> None:
    clock = Clock()
    cb = breaker(clock, failures=1, cooldown=1)
    cb.failure()
    clock.now += 1
    assert cb.allow()

    cb.release_probe()

    assert cb.allow()
