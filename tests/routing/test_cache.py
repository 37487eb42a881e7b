"""The response cache: keyed per team, never shared across teams; only deterministic
answers; failures and abandoned answers are not cached."""

from __future__ import annotations

import random

import pytest

from tripoint.config.routing import CachePolicy
from tripoint.errors import UpstreamError
from tripoint.pipeline.call import Call, Operation, Principal, Record
from tripoint.pipeline.stage import ChunkStream
from tripoint.routing.cache import MemoryCacheStore, ResponseCache
from tripoint.schema.chunks import ChatChunk, ChoiceDelta
from tripoint.schema.requests import ChatRequest

ON = CachePolicy(enabled=True, ttl=60)


def make_call(team: str, content: str, temperature: float | None = 0.0) -> Call:
    body: dict[str, object] = {"model": "m", "messages": [{"role": "user", "content": content}]}
    if temperature is not None:
        body["temperature"] = temperature
    request = ChatRequest.model_validate(body)
    record = Record(request_id="r", model="m", operation=Operation.CHAT)
    return Call(
        request=request,
        model="m",
        targets=(),
        record=record,
        principal=Principal(id=f"{team}-user", team=team),
    )


class Upstream:
    """Answers with the team and content it was asked for, so a wrong hit is visible."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    async def __call__(self, call: Call) -> ChunkStream:
        self.calls += 1
        if self.fail:
            raise UpstreamError("down")
        content = call.request.messages[-1].content  # type: ignore[union-attr]
        yield ChatChunk(choices=(ChoiceDelta(text=f"{call.principal.team}:{content}"),))


async def answer(cache: ResponseCache, upstream: Upstream, call: Call) -> str:
    chunks = [c async for c in cache(call, upstream)]
    return "".join(c.choices[0].text or "" for c in chunks if isinstance(c, ChatChunk))


async def test_no_cross_team_hits_in_randomised_traffic() -> None:
    cache = ResponseCache({"m": ON}, MemoryCacheStore(10_000))
    upstream = Upstream()
    rng = random.Random(3)
    hits = 0

    for _ in range(1000):
        team, content = rng.choice(["red", "blue"]), rng.choice(["a", "b", "c", "d"])
        call = make_call(team, content)
        text = await answer(cache, upstream, call)
        hits += bool(call.record.cache_hit)
        assert text == f"{team}:{content}"

    assert upstream.calls == 8  # each (team, content) pair reached the upstream once
    assert hits == 992


@pytest.mark.parametrize("temperature", [None, 0.7])
async def test_sampled_requests_are_not_cached(temperature: float | None) -> None:
    cache = ResponseCache({"m": ON}, MemoryCacheStore(10))
    upstream = Upstream()

    for _ in range(2):
        await answer(cache, upstream, make_call("red", "a", temperature))

    assert upstream.calls == 2


async def test_forced_cache_stores_sampled_answers() -> None:
    cache = ResponseCache({"m": CachePolicy(enabled=True, force=True)}, MemoryCacheStore(10))
    upstream = Upstream()

    for _ in range(2):
        await answer(cache, upstream, make_call("red", "a", 0.7))

    assert upstream.calls == 1


async def test_failures_are_not_cached() -> None:
    cache = ResponseCache({"m": ON}, MemoryCacheStore(10))
    upstream = Upstream()
    upstream.fail = True

    with pytest.raises(UpstreamError):
        await answer(cache, upstream, make_call("red", "a"))
    upstream.fail = False
    await answer(cache, upstream, make_call("red", "a"))

    assert upstream.calls == 2


async def test_entries_expire_and_the_store_is_bounded() -> None:
    store = MemoryCacheStore(max_entries=2)
    chunk = (ChatChunk(),)

    await store.put("a", chunk, ttl=60)
    await store.put("b", chunk, ttl=-1)
    await store.put("c", chunk, ttl=60)

    assert await store.get("a") is None  # evicted: least recently used beyond 2 entries
    assert await store.get("b") is None  # expired
    assert await store.get("c") == chunk
