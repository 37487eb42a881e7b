"""The key cache: served within its TTL, reloaded after, never stale when the reload fails."""

from __future__ import annotations

import asyncio

import pytest

from tripoint.auth.cache import TtlCache
from tripoint.errors import ServiceUnavailableError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Source:
    def __init__(self) -> None:
        self.loads = 0
        self.down = False
        self.value = "v1"
        self.gate: asyncio.Event | None = None

    async def __call__(self, key: str) -> str:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise ServiceUnavailableError("database down")
        return f"{key}:{self.value}"


def cache(source: Source, clock: Clock, ttl: float = 10) -> TtlCache[str, str]:
    return TtlCache(source, ttl=ttl, max_size=3, clock=clock)


async def test_serves_from_memory_within_the_ttl() -> None:
    source, clock = Source(), Clock()
    keys = cache(source, clock)
    await keys.get("a")
    source.value = "v2"
    clock.now = 9.9

    assert await keys.get("a") == "a:v1"
    assert source.loads == 1


async def test_reloads_after_the_ttl() -> None:
    source, clock = Source(), Clock()
    keys = cache(source, clock)
    await keys.get("a")
    source.value = "v2"
    clock.now = 10

    assert await keys.get("a") == "a:v2"


async def test_with_the_database_down_serves_until_the_ttl_then_fails_closed() -> None:
    source, clock = Source(), Clock()
    keys = cache(source, clock)
    await keys.get("a")
    source.down = True

    clock.now = 5
    assert await keys.get("a") == "a:v1"
    clock.now = 10
    with pytest.raises(ServiceUnavailableError):
        await keys.get("a")
    with pytest.raises(ServiceUnavailableError):
        await keys.get("a")  # the failure is not cached either: the next call retries


async def test_concurrent_misses_share_one_load() -> None:
    source, clock = Source(), Clock()
    source.gate = asyncio.Event()
    keys = cache(source, clock)

    waiting = [asyncio.ensure_future(keys.get("a")) for _ in range(50)]
    await asyncio.sleep(0)
    source.gate.set()
    answers = await asyncio.gather(*waiting)

    assert set(answers) == {"a:v1"}
    assert source.loads == 1


async def test_a_load_begun_before_an_invalidation_is_not_kept() -> None:
    source, clock = Source(), Clock()
    source.gate = asyncio.Event()
    keys = cache(source, clock)
    pending = asyncio.ensure_future(keys.get("a"))
    await asyncio.sleep(0)

    keys.invalidate("a")  # e.g. revoked on this replica while the lookup was in flight
    source.value = "revoked"
    source.gate.set()
    await pending

    assert await keys.get("a") == "a:revoked"


async def test_holds_at_most_max_size_entries() -> None:
    source, clock = Source(), Clock()
    keys = cache(source, clock)

    for name in "abcde":
        await keys.get(name)

    assert len(keys) == 3


async def test_one_caller_giving_up_does_not_cancel_the_shared_load() -> None:
    source, clock = Source(), Clock()
    source.gate = asyncio.Event()
    keys = cache(source, clock)
    impatient = asyncio.ensure_future(keys.get("a"))
    patient = asyncio.ensure_future(keys.get("a"))
    await asyncio.sleep(0)

    impatient.cancel()
    source.gate.set()

    assert await patient == "a:v1"


async def test_discard_drops_what_a_push_names_and_keeps_no_load_begun_before_it() -> None:
    source, clock = Source(), Clock()
    keys = cache(source, clock)
    await keys.get("a")
    await keys.get("b")
    source.gate = old_read = asyncio.Event()
    in_flight = asyncio.ensure_future(keys.get("c"))  # read before the change committed
    await asyncio.sleep(0)

    keys.discard(lambda value: value.startswith("a:"))
    source.value, source.gate = "v2", None
    async with asyncio.timeout(2):
        fresh = await keys.get("c")  # a new caller does not join the older load
    old_read.set()
    await in_flight
    named, other = await keys.get("a"), await keys.get("b")

    assert fresh == "c:v2"
    assert (named, other) == ("a:v2", "b:v1")  # b was not named: still served from memory
    assert source.loads == 5  # a, b, the old c, the new c, a again
