"""The official openai SDK works unchanged against Tripoint, sync and async, streamed and not."""

from __future__ import annotations

import base64
import struct

import openai
import pytest

from tests.fakes.openai_upstream import FakeOpenAI

HELLO = [{"role": "user", "content": "Say hello"}]


def test_chat_answer_comes_back_whole(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    answer = client.chat.completions.create(model="chat-default", messages=HELLO)

    assert answer.choices[0].message.content == "Hello from the fake upstream!"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "chat-default"
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 6
    assert upstream.calls[0].body["model"] == "upstream-chat"


def test_chat_streams_text_then_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="chat-default", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )

    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake upstream!"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6


def test_stream_without_include_usage_sends_no_usage(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    chunks = list(client.chat.completions.create(model="chat-default", messages=HELLO, stream=True))

    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert upstream.calls[0].body["stream_options"] == {"include_usage": True}


async def test_async_client_streams_and_answers(async_client: openai.AsyncOpenAI) -> None:
    whole = await async_client.chat.completions.create(model="chat-default", messages=HELLO)
    stream = await async_client.chat.completions.create(
        model="chat-default", messages=HELLO, stream=True
    )
    pieces = [c.choices[0].delta.content or "" async for c in stream]

    assert whole.choices[0].message.content == "".join(pieces)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_arrives_whole(
    client: openai.OpenAI, upstream: FakeOpenAI, *, stream: bool
) -> None:
    upstream.always(tool_call=("get_weather", '{"city": "Paris", "unit": "celsius"}'))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]

    if stream:
        with client.chat.completions.stream(
            model="chat-default",
            messages=HELLO,
            tools=tools,  # type: ignore[arg-type]
        ) as events:
            message = events.get_final_completion().choices[0].message
    else:
        message = (
            client.chat.completions.create(
                model="chat-default",
                messages=HELLO,
                tools=tools,  # type: ignore[arg-type]
            )
            .choices[0]
            .message
        )

    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.id == "call_1"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert call.function.arguments == '{"city": "Paris", "unit": "celsius"}'  # type: ignore[union-attr]
    assert upstream.calls[0].body["tools"] == tools


def test_known_and_unknown_fields_reach_the_upstream(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    client.chat.completions.create(
        model="chat-default",
        messages=HELLO,
        n=1,
        stop=["\n"],
        seed=7,
        logprobs=True,
        top_logprobs=2,
        response_format={"type": "json_object"},
        extra_body={"top_k": 40, "repetition_penalty": 1.1},
    )

    sent = upstream.calls[0].body
    assert sent["seed"] == 7
    assert sent["stop"] == ["\n"]
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["top_k"] == 40
    assert sent["repetition_penalty"] == 1.1
    assert sent["logprobs"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_text_completions(client: openai.OpenAI, *, stream: bool) -> None:
    if stream:
        text = "".join(
            c.choices[0].text
            for c in client.completions.create(model="chat-default", prompt="Once", stream=True)
            if c.choices
        )
    else:
        text = client.completions.create(model="chat-default", prompt="Once").choices[0].text

    assert text == "Hello from the fake upstream!"


def test_embeddings_in_floats_and_base64(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(
        model="embed-default", input=["ab", "c"], encoding_format="float"
    )
    default = client.embeddings.create(model="embed-default", input=["ab", "c"])

    assert [d.embedding for d in floats.data] == [[2.0, 0.5, -0.25], [1.0, 0.5, -0.25]]
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert floats.usage.prompt_tokens == 2


def test_base64_embeddings_pass_through(client: openai.OpenAI, upstream: FakeOpenAI) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="embed-default", input="x", encoding_format="base64"
    )

    packed = raw.http_response.json()["data"][0]["embedding"]
    assert upstream.calls[0].body["encoding_format"] == "base64"
    assert struct.unpack("<3f", base64.b64decode(packed)) == (1.0, 0.5, -0.25)


def test_models_lists_routes(client: openai.OpenAI) -> None:
    names = {m.id for m in client.models.list()}

    assert names == {"chat-default", "embed-default", "with-fallback", "dead-only"}
    assert client.models.retrieve("chat-default").id == "chat-default"


def test_falls_back_to_the_next_target_before_first_byte(
    client: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    raw = client.chat.completions.with_raw_response.create(model="with-fallback", messages=HELLO)

    assert raw.parse().choices[0].message.content == "Hello from the fake upstream!"
    assert raw.headers["x-tripoint-backend"] == "fake"
    assert len(upstream.calls) == 1


def test_request_id_is_echoed_or_generated(client: openai.OpenAI) -> None:
    mine = client.chat.completions.with_raw_response.create(
        model="chat-default", messages=HELLO, extra_headers={"x-request-id": "trace-42"}
    )
    theirs = client.chat.completions.with_raw_response.create(model="chat-default", messages=HELLO)

    assert mine.headers["x-request-id"] == "trace-42"
    assert len(theirs.headers["x-request-id"]) == 24
