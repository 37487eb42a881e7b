"""Every cloud chat provider against its recorded wire fixtures: the conformance scenarios."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
import pytest

from tests.providers.cloud.case import ProviderCase
from tripoint.errors import (
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
)
from tripoint.providers.base import ChatProvider, Provider
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.render import gather
from tripoint.schema.requests import ChatRequest

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def chat(model: str, messages: list[dict[str, Any]], **fields: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": model, "messages": messages, **fields})


async def run(provider: Provider, request: ChatRequest, case: ProviderCase) -> list[ChatChunk]:
    assert isinstance(provider, ChatProvider)
    return [chunk async for chunk in provider.chat(request, case.target())]


HELLO = [{"role": "user", "content": "Hello there"}]


async def test_answers_plain_text_with_usage(case: ProviderCase, provider: Provider) -> None:
    case.fake.then(scenario="text")

    chunks = await run(provider, chat("m", HELLO), case)

    choices, meta = gather(chunks)
    assert "".join(choices[0].text) == case.expected.text
    assert choices[0].role == "assistant"
    assert choices[0].finish_reason == "stop"
    assert meta is not None
    assert meta.usage == case.expected.usage


async def test_sends_multi_turn_history_in_order(case: ProviderCase, provider: Provider) -> None:
    messages = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]

    await run(provider, chat("m", messages), case)

    sent = case.read(case.fake.calls[-1].body)
    assert [(t.role, t.texts) for t in sent.turns] == [
        ("user", ("My name is Ada.",)),
        ("assistant", ("Nice to meet you, Ada.",)),
        ("user", ("What is my name?",)),
    ]
    assert sent.system is None


async def test_sends_system_prompt_apart_from_turns(case: ProviderCase, provider: Provider) -> None:
    messages = [{"role": "system", "content": "Answer in French."}, *HELLO]

    await run(provider, chat("m", messages), case)

    sent = case.read(case.fake.calls[-1].body)
    assert sent.system == "Answer in French."
    assert [(t.role, t.texts) for t in sent.turns] == [("user", ("Hello there",))]


async def test_round_trips_a_tool_call(case: ProviderCase, provider: Provider) -> None:
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    case.fake.then(scenario="tool_call").then(scenario="text")

    first = gather(await run(provider, chat("m", ask, tools=[WEATHER_TOOL]), case))[0][0]
    (call,) = first.tool_calls.values()
    follow_up = [
        *ask,
        {
            "role": "assistant",
            "content": first.text and "".join(first.text),
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": "18 degrees and sunny"},
    ]
    second = gather(await run(provider, chat("m", follow_up, tools=[WEATHER_TOOL]), case))[0][0]

    assert first.finish_reason == "tool_calls"
    assert "".join(first.text) == case.expected.tool_preamble
    assert call["name"] == case.expected.tool_name
    assert orjson.loads(call["arguments"]) == case.expected.tool_arguments
    assert call["id"]
    sent = case.read(case.fake.calls[-1].body)
    assert sent.turns[1].calls == ((case.expected.tool_name, case.expected.tool_arguments),)
    ((reference, result),) = sent.turns[2].results
    assert reference in (call["id"], call["name"])
    assert result == "18 degrees and sunny"
    assert "".join(second.text) == case.expected.text


@pytest.mark.parametrize("piece", [None, 1, 7], ids=["whole", "byte-by-byte", "7-byte-pieces"])
async def test_streams_text_in_order(
    case: ProviderCase, provider: Provider, piece: int | None
) -> None:
    case.fake.then(scenario="text", piece=piece)

    chunks = await run(provider, chat("m", HELLO, stream=True), case)

    texts = [c.choices[0].text for c in chunks if c.choices and c.choices[0].text]
    assert len(texts) >= 3  # really streamed, not one gathered answer
    assert "".join(texts) == case.expected.text
    assert chunks[0].choices[0].role == "assistant"
    choices, meta = gather(chunks)
    assert choices[0].finish_reason == "stop"
    assert meta is not None
    assert meta.usage == case.expected.usage


@pytest.mark.parametrize("piece", [None, 1, 5], ids=["whole", "byte-by-byte", "5-byte-pieces"])
async def test_reassembles_streamed_tool_call_arguments(
    case: ProviderCase, provider: Provider, piece: int | None
) -> None:
    case.fake.then(scenario="tool_call", piece=piece)

    chunks = await run(provider, chat("m", HELLO, stream=True, tools=[WEATHER_TOOL]), case)

    choices, meta = gather(chunks)
    (call,) = choices[0].tool_calls.values()
    assert call["name"] == case.expected.tool_name
    assert orjson.loads(call["arguments"]) == case.expected.tool_arguments
    assert call["id"]
    assert "".join(choices[0].text) == case.expected.tool_preamble
    assert choices[0].finish_reason == "tool_calls"
    assert meta is not None
    assert meta.usage == case.expected.tool_usage


async def test_sends_tools_with_their_schema(case: ProviderCase, provider: Provider) -> None:
    case.fake.then(scenario="tool_call")

    await run(provider, chat("m", HELLO, tools=[WEATHER_TOOL], tool_choice="required"), case)

    body = orjson.dumps(case.fake.calls[-1].body)
    assert b"get_weather" in body
    assert orjson.dumps(WEATHER_TOOL["function"]["parameters"]) in body  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (400, UpstreamRejectedError, False),
        (401, UpstreamError, False),
        (403, UpstreamError, False),
        (429, UpstreamRateLimitError, True),
        (500, UpstreamError, True),
        (503, UpstreamError, True),
    ],
)
async def test_maps_upstream_status_to_error(
    case: ProviderCase,
    provider: Provider,
    status: int,
    error: type[UpstreamError],
    *,
    retryable: bool,
    stream: bool,
) -> None:
    case.fake.then(status=status, headers={"Retry-After": "7"} if status == 429 else {})

    with pytest.raises(error) as caught:
        await run(provider, chat("m", HELLO, stream=stream), case)

    assert caught.value.retryable is retryable
    assert caught.value.upstream_status == status
    if status == 429:
        assert caught.value.retry_after == 7.0
    if status == 400:
        assert caught.value.message  # the upstream's explanation reaches the client


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_times_out_before_first_byte(
    case: ProviderCase, provider: Provider, *, stream: bool
) -> None:
    case.fake.then(delay=1.5)

    with pytest.raises(UpstreamTimeoutError):
        await run(provider, chat("m", HELLO, stream=stream), case)


async def test_times_out_when_the_stream_stalls(case: ProviderCase, provider: Provider) -> None:
    case.fake.then(scenario="text", stall_at=case.clean_cut("text"))
    assert isinstance(provider, ChatProvider)
    stream = provider.chat(chat("m", HELLO, stream=True), case.target())
    first = await anext(stream)  # the answer had begun before the upstream went silent

    with pytest.raises(UpstreamTimeoutError):
        async for _ in stream:
            pass

    assert first.choices[0].text


TRUNCATIONS = [
    "connection-cut-mid-frame",
    "connection-cut-between-frames",
    "clean-end-mid-frame",
    "clean-end-unfinished-answer",
    "empty-body",
]


@pytest.mark.parametrize("where", TRUNCATIONS)
async def test_truncated_stream_is_an_error(
    case: ProviderCase, provider: Provider, where: str
) -> None:
    whole, cut = case.stream_body("text"), case.clean_cut("text")
    reply: dict[str, Any] = {
        "connection-cut-mid-frame": {"cut_at": -5},
        "connection-cut-between-frames": {"cut_at": cut},
        "clean-end-mid-frame": {"body": whole[:-5]},
        "clean-end-unfinished-answer": {"body": whole[:cut]},
        "empty-body": {"body": b""},
    }[where]
    if "body" in reply:
        reply["content_type"] = case.stream_content_type
    case.fake.then(scenario="text", **reply)

    with pytest.raises(UpstreamError) as caught:
        await run(provider, chat("m", HELLO, stream=True), case)

    assert not isinstance(caught.value, UpstreamRejectedError)
    assert re.search(r"truncated|early|middle|before the answer finished", caught.value.message)


GARBAGE = [
    ("html-page", 200, b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    ("invalid-json", 200, b'{"output": {"message": ', "application/json"),
    ("wrong-shape", 200, b'{"output": [1, 2], "candidates": {"a": 1}}', "application/json"),
    ("json-array", 200, b"[1, 2, 3]", "application/json"),
    ("html-error", 502, b"<html>upstream connect error</html>", "text/html"),
]


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [g[1:] for g in GARBAGE],
    ids=[g[0] for g in GARBAGE],
)
async def test_garbage_answer_is_a_clean_upstream_error(
    case: ProviderCase, provider: Provider, status: int, body: bytes, content_type: str
) -> None:
    case.fake.then(status=status, body=body, content_type=content_type)

    with pytest.raises(UpstreamError) as caught:
        await run(provider, chat("m", HELLO), case)

    assert not isinstance(caught.value, UpstreamRejectedError)
    assert re.search(r"malformed|not JSON|answered 502", caught.value.message)


@pytest.mark.parametrize("kind", ["garbage-frames", "wrong-content-type"])
async def test_garbage_stream_is_a_clean_upstream_error(
    case: ProviderCase, provider: Provider, kind: str
) -> None:
    if kind == "garbage-frames":
        case.fake.then(body=case.stream_garbage, content_type=case.stream_content_type)
    else:
        case.fake.then(body=b'{"ok": true}', content_type="application/json")

    with pytest.raises(UpstreamError) as caught:
        await run(provider, chat("m", HELLO, stream=True), case)

    assert not isinstance(caught.value, UpstreamRejectedError)
    assert re.search(r"corrupt|not JSON|malformed|event stream", caught.value.message)


async def test_serves_concurrent_calls_each_with_its_own_whole_answer(
    case: ProviderCase, provider: Provider
) -> None:
    requests = [
        chat("m", [{"role": "user", "content": f"question {i}"}], stream=i % 2 == 0)
        for i in range(40)
    ]

    answers = await asyncio.gather(*(run(provider, r, case) for r in requests))

    for chunks in answers:
        choices, meta = gather(chunks)
        assert "".join(choices[0].text) == case.expected.text
        assert meta is not None
        assert meta.usage == case.expected.usage
    sent = sorted(case.read(call.body).turns[0].texts[0] for call in case.fake.calls)
    assert sent == sorted(f"question {i}" for i in range(40))  # every call signed and accepted
