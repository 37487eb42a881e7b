"""Rolling windows against a reference model: no double burst at window edges, and many
distinct keys do not weaken enforcement."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import Kind, Meter

LIMIT = 5
RPM = Meter("k:requests", Kind.REQUESTS, LIMIT, "this key", "requests_per_minute")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_no_double_burst_across_a_window_edge() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    clock.now = 1_000_059.9  # the end of one minute
    burst = [store.reserve_now([RPM], [1], f"a{i}").admitted for i in range(LIMIT)]

    clock.now = 1_000_060.1  # a fixed window would start afresh here
    after_edge = store.reserve_now([RPM], [1], "b")
    clock.now = 1_000_059 + 61.0  # a full window after the burst's second
    later = store.reserve_now([RPM], [1], "c")

    assert all(burst)
    assert not after_edge.admitted
    assert later.admitted


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=300, allow_nan=False), max_size=60))
def test_never_more_than_the_limit_in_any_rolling_minute(offsets: list[float]) -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    admitted: list[float] = []

    for i, offset in enumerate(sorted(offsets)):
        clock.now = 1_000_000.0 + offset
        if store.reserve_now([RPM], [1], f"r{i}").admitted:
            admitted.append(clock.now)

    for start in admitted:
        assert sum(1 for t in admitted if start <= t < start + 60) <= LIMIT
    # and the reference: admitted only when fewer than LIMIT were admitted in the current
    # one-second bucket and the 60 before it (the store's documented, conservative rule)
    for i, t in enumerate(admitted):
        recent = [a for a in admitted[:i] if int(a) >= int(t) - 60]
        assert len(recent) < LIMIT


def test_many_distinct_keys_do_not_weaken_enforcement() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)

    for i in range(100_000):
        store.reserve_now([Meter(f"key{i}:requests", Kind.REQUESTS, 1, "k", "rpm")], [1], f"l{i}")
    repeat = [
        store.reserve_now([Meter(f"key{i}:requests", Kind.REQUESTS, 1, "k", "rpm")], [1], "x")
        for i in range(0, 100_000, 997)
    ]

    assert not any(r.admitted for r in repeat)
