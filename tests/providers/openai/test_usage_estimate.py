"""An OpenAI-compatible server that reports no usage (a stream that ignores
`stream_options.include_usage`, a whole answer without it) still gives the gateway usage:
counted with cl100k_base."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
import tiktoken

from tests.fakes.replay_upstream import ReplayServer, Reply
from tests.providers.conformance.case import FIXTURES, sse_frames
from tests.providers.conformance.scenarios import request
from tripoint.config.schema import OpenAIBackend
from tripoint.providers.openai.provider import OpenAIProvider
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.target import Target
from tripoint.providers.tokens import ENCODING, TokenCounter
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.render import gather

STREAM = (FIXTURES / "openai" / "text.sse").read_bytes()
WITHOUT_USAGE = b"".join(f for f in sse_frames(STREAM) if b'"usage"' not in f)
TEXT = "Hello! How can I help you today?"


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


@pytest.fixture
async def counter() -> TokenCounter:
    loaded = TokenCounter()
    await loaded.start()
    return loaded


@pytest.fixture
async def provider(upstream: ReplayServer, counter: TokenCounter) -> AsyncIterator[OpenAIProvider]:
    upstream.reset()
    backend = OpenAIBackend.model_validate({"type": "openai", "base_url": upstream.url})
    built = build_provider("box", backend, counter=counter)
    assert isinstance(built, OpenAIProvider)
    await built.start()
    yield built
    await built.close()


def target() -> Target:
    backend = OpenAIBackend.model_validate({"type": "openai", "base_url": "http://127.0.0.1:9"})
    return Target(facts_of("box", backend), "served")


async def answer(provider: OpenAIProvider) -> list[ChatChunk]:
    return [c async for c in provider.chat(request("stream"), target())]


async def test_a_stream_without_usage_ends_with_counted_usage(
    provider: OpenAIProvider, upstream: ReplayServer, counter: TokenCounter
) -> None:
    upstream.queue(Reply(WITHOUT_USAGE, content_type="text/event-stream"))

    chunks = await answer(provider)

    last = chunks[-1]
    assert last.usage is not None
    assert not last.choices
    assert last.id == chunks[0].id, "the usage chunk belongs to the same stream"
    encoding = tiktoken.get_encoding(ENCODING)
    assert last.usage.completion_tokens == len(encoding.encode(TEXT))
    assert last.usage.prompt_tokens == counter.prompt_tokens(request("stream"))
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


async def test_reported_usage_is_kept_and_nothing_is_added(
    provider: OpenAIProvider, upstream: ReplayServer
) -> None:
    upstream.queue(Reply(STREAM, content_type="text/event-stream"))

    chunks = await answer(provider)

    usages = [c.usage for c in chunks if c.usage is not None]
    assert len(usages) == 1
    assert (usages[0].prompt_tokens, usages[0].completion_tokens) == (9, 10)


async def test_a_whole_answer_without_usage_gets_counted_usage(
    provider: OpenAIProvider, upstream: ReplayServer
) -> None:
    whole = orjson.loads((FIXTURES / "openai" / "text.json").read_bytes())
    del whole["usage"]
    upstream.queue(Reply(orjson.dumps(whole)))

    chunks = [c async for c in provider.chat(request("plain"), target())]

    _, meta = gather(chunks)
    assert meta is not None
    assert meta.usage is not None
    encoding = tiktoken.get_encoding(ENCODING)
    assert meta.usage.completion_tokens == len(encoding.encode(TEXT))
