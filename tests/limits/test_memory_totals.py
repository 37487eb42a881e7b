"""The memory store's running totals (window sums, held leases) agree with what happened:
settled, replaced and expired reservations, and windows sliding past."""

from __future__ import annotations

from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import Kind, Meter
from tripoint.limits.store import LEASE_SECONDS

BUDGET = Meter("k:budget:total", Kind.BUDGET, 100, "this key", "budget_usd_total")
CONCURRENT = Meter("k:concurrent", Kind.CONCURRENT, 2, "this key", "max_concurrent")
TPM = Meter("k:tokens", Kind.TOKENS, 100, "this key", "tokens_per_minute", window=10)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_an_unsettled_budget_reservation_is_released_when_its_lease_expires() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    store.reserve_now([BUDGET], [60], "crashed")

    refused = store.reserve_now([BUDGET], [60], "second")
    clock.now += LEASE_SECONDS + 0.5
    admitted = store.reserve_now([BUDGET], [60], "third")

    assert not refused.admitted
    assert admitted.admitted
    assert list(admitted.used) == [60]


def test_settling_releases_the_hold_and_counts_only_the_spend() -> None:
    store = MemoryLimitStore(Clock())
    held = store.reserve_now([BUDGET], [60], "a")
    store.settle_now([BUDGET], [60], [10], "a", held.bucket)

    fits = store.reserve_now([BUDGET], [90], "b")
    over = store.reserve_now([BUDGET], [1], "c")

    assert fits.admitted
    assert list(fits.used) == [100]
    assert not over.admitted


def test_a_reservation_under_the_same_lease_replaces_the_earlier_hold() -> None:
    store = MemoryLimitStore(Clock())
    store.reserve_now([BUDGET], [70], "same")
    store.reserve_now([BUDGET], [20], "same")
    other = store.reserve_now([BUDGET], [80], "other")  # 20 held + 80 = 100: fits

    assert other.admitted
    assert list(other.used) == [100]


def test_concurrency_frees_a_slot_when_a_call_settles() -> None:
    store = MemoryLimitStore(Clock())
    first = store.reserve_now([CONCURRENT], [1], "a")
    store.reserve_now([CONCURRENT], [1], "b")
    full = store.reserve_now([CONCURRENT], [1], "c")
    store.settle_now([CONCURRENT], [1], [1], "a", first.bucket)
    freed = store.reserve_now([CONCURRENT], [1], "d")

    assert not full.admitted
    assert freed.admitted


def test_window_totals_follow_settlements_and_slide_past_old_seconds() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    early = store.reserve_now([TPM], [80], "a")
    store.settle_now([TPM], [80], [30], "a", early.bucket)  # 30 used in second 1000
    clock.now += 5
    mid = store.reserve_now([TPM], [70], "b")  # 30 + 70 = 100: just fits
    clock.now += 6  # second 1000 left the 10-second window
    late = store.reserve_now([TPM], [30], "c")

    assert mid.admitted
    assert list(mid.used) == [100]
    assert late.admitted
    assert list(late.used) == [100]
