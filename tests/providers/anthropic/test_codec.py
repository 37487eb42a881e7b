"""The Anthropic codec, from recorded fixtures and requests, without a server."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.providers.codec_fixtures import document, events
from tripoint.errors import (
    InvalidRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
)
from tripoint.providers.anthropic import codec
from tripoint.providers.sse import ServerSentEvent
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.render import gather
from tripoint.schema.requests import ChatRequest


def chat(**body: Any) -> ChatRequest:
    return ChatRequest.model_validate_json(orjson.dumps({"model": "m", **body}))


def wire(**body: Any) -> dict[str, Any]:
    return codec.to_wire(chat(**body), "claude-haiku-4-5", max_tokens=4096)


def decode(name: str) -> list[ChatChunk]:
    decoder = codec.StreamDecoder("claude")
    chunks = [chunk for event in events("anthropic", name) for chunk in decoder.feed(event)]
    assert decoder.finished
    return chunks


def event(payload: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(payload), payload["type"])


def test_streamed_text_fixture_becomes_openai_chunks() -> None:
    chunks = decode("text.sse")

    choices, meta = gather(chunks)
    assert chunks[0].choices[0].role == "assistant"
    assert "".join(choices[0].text) == "Hello! How can I help you today?"
    assert choices[0].finish_reason == "stop"
    assert meta is not None
    assert meta.usage is not None
    assert (meta.usage.prompt_tokens, meta.usage.completion_tokens) == (12, 10)


def test_streamed_tool_use_fixture_keeps_text_and_reassembles_arguments() -> None:
    choices, _ = gather(decode("tool_call.sse"))

    assert "".join(choices[0].text) == "I'll check the current weather in Paris for you."
    assert choices[0].tool_calls == {
        0: {
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "arguments": '{"city": "Paris", "unit": "celsius"}',
        }
    }
    assert choices[0].finish_reason == "tool_calls"


def test_whole_tool_use_answer_has_openai_arguments_string() -> None:
    chunk = codec.chunk_from_wire(document("anthropic", "tool_call.json"))

    [call] = chunk.choices[0].tool_calls
    assert json.loads(call.arguments) == {"city": "Paris", "unit": "celsius"}
    assert call.type == "function"
    assert chunk.choices[0].text == "I'll check the current weather in Paris for you."


def test_system_and_developer_messages_become_the_top_level_system() -> None:
    body = wire(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        ]
    )

    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


def test_parallel_tool_results_share_one_user_turn_before_the_next_question() -> None:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for i in (1, 2)
    ]
    body = wire(
        messages=[
            {"role": "user", "content": "Do two things"},
            {"role": "assistant", "content": "Doing both.", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "call_1", "content": "one"},
            {"role": "tool", "tool_call_id": "call_2", "content": "two"},
            {"role": "user", "content": "Thanks"},
        ]
    )

    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assistant, results = body["messages"][1]["content"], body["messages"][2]["content"]
    assert [b["type"] for b in assistant] == ["text", "tool_use", "tool_use"]
    assert results == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "one"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "two"},
        {"type": "text", "text": "Thanks"},
    ]


def test_images_become_image_blocks() -> None:
    parts = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]

    body = wire(messages=[{"role": "user", "content": parts}])

    assert body["messages"][0]["content"][1:] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, None),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_maps_to_anthropic(choice: Any, parallel: Any, expected: Any) -> None:
    tool = {"type": "function", "function": {"name": "f"}}
    extra = {} if parallel is None else {"parallel_tool_calls": parallel}

    body = wire(
        messages=[{"role": "user", "content": "x"}], tools=[tool], tool_choice=choice, **extra
    )

    assert body.get("tool_choice") == expected
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]


def test_max_tokens_is_the_clients_else_the_backend_default() -> None:
    hello = [{"role": "user", "content": "x"}]

    assert wire(messages=hello)["max_tokens"] == 4096
    assert wire(messages=hello, max_tokens=10)["max_tokens"] == 10
    assert wire(messages=hello, max_completion_tokens=20, max_tokens=10)["max_tokens"] == 20


def test_anthropic_native_fields_pass_through() -> None:
    body = wire(
        messages=[{"role": "user", "content": "x"}],
        top_k=5,
        thinking={"type": "enabled", "budget_tokens": 2048},
        user="u-1",
        stop=["A", "B"],
    )

    assert body["top_k"] == 5
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["metadata"] == {"user_id": "u-1"}
    assert body["stop_sequences"] == ["A", "B"]


@pytest.mark.parametrize(
    "body",
    [
        {"n": 2},
        {"logprobs": True},
        {"response_format": {"type": "json_object"}},
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        {"messages": [{"role": "tool", "content": "no id"}]},
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{"}}
                    ],
                }
            ]
        },
    ],
    ids=["n", "logprobs", "response_format", "audio", "tool-without-id", "bad-arguments"],
)
def test_requests_anthropic_cannot_serve_are_refused_clearly(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        wire(**{"messages": [{"role": "user", "content": "x"}], **body})


def test_cached_prompt_tokens_count_as_prompt_tokens() -> None:
    usage = codec.usage_from_wire(
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 1000,
            "output_tokens": 5,
        }
    )

    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1110, 5, 1115)
    assert usage.extra == {"prompt_tokens_details": {"cached_tokens": 1000}}


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, None),
    ],
)
def test_stop_reasons_become_openai_finish_reasons(stop_reason: Any, finish: Any) -> None:
    assert codec.finish_reason(stop_reason) == finish


@pytest.mark.parametrize(
    ("kind", "error", "retryable"),
    [
        ("overloaded_error", UpstreamError, True),
        ("api_error", UpstreamError, True),
        ("rate_limit_error", UpstreamRateLimitError, True),
        ("invalid_request_error", UpstreamRejectedError, False),
    ],
)
def test_error_event_mid_stream_maps_by_its_type(
    kind: str, error: type[UpstreamError], retryable: bool
) -> None:
    decoder = codec.StreamDecoder("claude")
    payload = {"type": "error", "error": {"type": kind, "message": "Overloaded"}}

    with pytest.raises(error) as caught:
        decoder.feed(event(payload))

    assert type(caught.value) is error
    assert caught.value.retryable is retryable
    assert "Overloaded" in caught.value.message


def test_ping_and_unknown_events_are_ignored() -> None:
    decoder = codec.StreamDecoder("claude")

    assert decoder.feed(event({"type": "ping"})) == []
    assert decoder.feed(event({"type": "a_future_event", "x": 1})) == []
    assert not decoder.finished


def test_json_delta_for_a_block_that_is_no_tool_is_malformed() -> None:
    decoder = codec.StreamDecoder("claude")
    delta = {"type": "input_json_delta", "partial_json": "{"}

    with pytest.raises(UpstreamError, match="malformed"):
        decoder.feed(event({"type": "content_block_delta", "index": 3, "delta": delta}))


def test_error_body_message_reaches_the_client() -> None:
    body = json.dumps(document("anthropic", "error_400.json"))

    error = codec.error_from_wire("claude", 400, body, {})

    assert isinstance(error, UpstreamRejectedError)
    assert "maximum allowed number of output tokens" in error.message


def test_extended_thinking_is_reasoning_content_streamed_and_whole() -> None:
    decoder = codec.StreamDecoder("claude")
    start = {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}}
    pieces = [
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": t},
        }
        for t in ("Let me ", "think.")
    ]
    signature = {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}

    chunks = [c for p in [start, *pieces] for c in decoder.feed(event(p))]
    chunks += decoder.feed(event({"type": "content_block_delta", "index": 0, "delta": signature}))
    whole = codec.chunk_from_wire(
        {
            "type": "message",
            "content": [
                {"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"},
                {"type": "text", "text": "42"},
            ],
            "stop_reason": "end_turn",
        }
    )

    choices, _ = gather(chunks)
    assert choices[0].extra == {"reasoning_content": "Let me think."}
    assert whole.choices[0].extra == {"reasoning_content": "Let me think."}
    assert whole.choices[0].text == "42"
