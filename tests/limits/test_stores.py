"""Both limit stores, memory and real Redis, keep the same contract: all meters or none,
exact under concurrency, settled to actual use, nothing left held."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from tripoint.config.limits import RedisStore
from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import Kind, Meter
from tripoint.limits.redis_connection import redis_client
from tripoint.limits.redis_store import RedisLimitStore
from tripoint.limits.store import LimitStore

RPM = Meter("k:requests", Kind.REQUESTS, 5, "this key", "requests_per_minute")
TPM = Meter("k:tokens", Kind.TOKENS, 100, "this key", "tokens_per_minute")
CONCURRENT = Meter("k:concurrent", Kind.CONCURRENT, 2, "this key", "max_concurrent")
BUDGET = Meter("k:budget:total", Kind.BUDGET, 1_000, "this key", "budget_usd_total")


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    if request.param == "memory":
        yield MemoryLimitStore()
        return
    url = request.getfixturevalue("redis_url")
    client = redis_client(RedisStore(type="redis", url=SecretStr(url), timeout=2))
    yield RedisLimitStore(client)
    await client.aclose()


async def test_admits_up_to_the_limit_then_refuses_with_retry_after(store: LimitStore) -> None:
    results = [await store.reserve([RPM], [1], f"l{i}") for i in range(6)]

    assert [r.admitted for r in results] == [True] * 5 + [False]
    refused = results[-1]
    assert refused.denied == 0
    assert refused.retry_after is not None
    assert 0 < refused.retry_after <= 61


async def test_all_meters_or_none(store: LimitStore) -> None:
    await store.reserve([TPM], [90], "a")

    refused = await store.reserve([RPM, TPM], [1, 20], "b")
    admitted = await store.reserve([RPM], [1], "c")

    assert not refused.admitted
    assert refused.denied == 1
    assert admitted.used == (1,)  # the refused call counted nothing on the first meter


async def test_settling_corrects_tokens_to_actual_use(store: LimitStore) -> None:
    first = await store.reserve([TPM], [80], "a")
    await store.settle([TPM], [80], [30], "a", first.bucket)

    second = await store.reserve([TPM], [70], "b")

    assert second.admitted
    assert second.used == (100,)


async def test_a_request_over_the_limit_alone_is_refused_without_retry(store: LimitStore) -> None:
    refused = await store.reserve([TPM], [101], "a")

    assert not refused.admitted
    assert refused.retry_after is None


async def test_concurrency_slots_are_released_at_settlement(store: LimitStore) -> None:
    a = await store.reserve([CONCURRENT], [1], "a")
    await store.reserve([CONCURRENT], [1], "b")
    refused = await store.reserve([CONCURRENT], [1], "c")
    await store.settle([CONCURRENT], [1], [1], "a", a.bucket)
    again = await store.reserve([CONCURRENT], [1], "d")

    assert not refused.admitted
    assert again.admitted


async def test_budget_holds_reservations_and_keeps_spend(store: LimitStore) -> None:
    a = await store.reserve([BUDGET], [600], "a")
    refused = await store.reserve([BUDGET], [600], "b")
    await store.settle([BUDGET], [600], [250], "a", a.bucket)
    b = await store.reserve([BUDGET], [750], "c")
    spent_out = await store.reserve([BUDGET], [1], "d")

    assert not refused.admitted
    assert b.admitted
    assert not spent_out.admitted


async def test_a_failed_call_releases_everything(store: LimitStore) -> None:
    meters = [TPM, CONCURRENT, BUDGET]
    held = await store.reserve(meters, [100, 1, 1_000], "a")
    await store.settle(meters, [100, 1, 1_000], [0, 0, 0], "a", held.bucket)

    again = await store.reserve(meters, [100, 1, 1_000], "b")

    assert again.admitted


async def test_exact_under_concurrent_reservations(store: LimitStore) -> None:
    budget = Meter("c:budget:total", Kind.BUDGET, 100, "this key", "budget_usd_total")

    results = await asyncio.gather(*(store.reserve([budget], [1], f"l{i}") for i in range(300)))

    assert sum(r.admitted for r in results) == 100


async def test_settling_twice_counts_once(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = RedisLimitStore(client)
    held = await store.reserve([BUDGET], [500], "a")

    await store.settle([BUDGET], [500], [400], "a", held.bucket)
    await store.settle([BUDGET], [500], [400], "a", held.bucket)
    spent = int(await client.get("tp:" + BUDGET.key + ":spent"))
    await client.aclose()

    assert spent == 400
