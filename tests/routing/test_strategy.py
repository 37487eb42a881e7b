"""Strategies order a route's targets: weights, outstanding load, latency."""

from __future__ import annotations

import random
from collections import Counter

from tripoint.config.routing import Breaker
from tripoint.providers.target import BackendFacts, Target
from tripoint.routing.fleet import Fleet
from tripoint.routing.strategy import order


def target(name: str) -> Target:
    return Target(BackendFacts(name, "openai", "self_hosted", None, False, False, ()), "m")


A, B, C = target("a"), target("b"), target("c")


def fleet() -> Fleet:
    return Fleet(breakers={n: Breaker() for n in "abc"}, admissions={})


def test_priority_keeps_the_configured_order() -> None:
    assert order([A, B, C], [1, 1, 1], "priority", fleet(), random.Random(1)) == [A, B, C]


def test_weighted_picks_first_in_proportion_to_weight() -> None:
    rng = random.Random(7)
    firsts = Counter(order([A, B], [3, 1], "weighted", fleet(), rng)[0].label for _ in range(4000))

    share = firsts["a/m"] / 4000
    assert 0.72 < share < 0.78  # 3 / (3 + 1)


def test_least_outstanding_prefers_the_idle_target() -> None:
    state = fleet()
    state.state(A).in_flight = 4
    state.state(B).in_flight = 1
    state.mark_backend("c", healthy=True, remote_waiting=2)

    assert order([A, B, C], [1, 1, 1], "least_outstanding", state, random.Random(1)) == [B, C, A]


def test_latency_prefers_the_fastest_and_explores_unmeasured() -> None:
    state = fleet()
    state.state(A).observe_first_chunk(0.5)
    state.state(B).observe_first_chunk(0.1)

    assert order([A, B, C], [1, 1, 1], "latency", state, random.Random(1)) == [C, B, A]
