"""The Bedrock Converse codec, from recorded fixtures, without a server."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.fakes.eventstream import encode_events
from tests.fakes.loopback import fixture_json
from tripoint.errors import (
    InvalidRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
)
from tripoint.providers.bedrock import codec
from tripoint.providers.bedrock.eventstream import EventStreamDecoder
from tripoint.providers.bedrock.stream import ConverseStreamTranslator
from tripoint.schema.chunks import ChatChunk, Usage
from tripoint.schema.render import gather
from tripoint.schema.requests import ChatRequest

FIXTURES = "tests/providers/fixtures"


def request(**fields: Any) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return ChatRequest.model_validate(body)


def translate(events: list[dict[str, Any]]) -> list[ChatChunk]:
    translator = ConverseStreamTranslator("bedrock")
    messages = EventStreamDecoder().feed(encode_events(events))
    return [chunk for m in messages if (chunk := translator.feed(m))]


def test_translates_a_tool_round_trip_to_the_recorded_converse_body() -> None:
    openai = ChatRequest.model_validate(fixture_json("", "openai_tool_round_trip.json"))

    body = codec.to_wire(openai)

    assert body == fixture_json("bedrock", "request_tool_round_trip.json")


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_maps_tool_choice(choice: object, wire: dict[str, Any]) -> None:
    tool = {"type": "function", "function": {"name": "get_weather"}}

    body = codec.to_wire(request(tools=[tool], tool_choice=choice))

    assert body["toolConfig"]["toolChoice"] == wire  # type: ignore[call-overload,index]
    assert body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {  # type: ignore[call-overload,index]
        "json": {"type": "object", "properties": {}}
    }


def test_tool_choice_none_sends_no_tools() -> None:
    tool = {"type": "function", "function": {"name": "get_weather"}}

    body = codec.to_wire(request(tools=[tool], tool_choice="none"))

    assert "toolConfig" not in body


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages.0.content",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1"},
                            }
                        ],
                    }
                ]
            },
            "messages.0.tool_calls",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id"),
        ({"messages": [{"role": "function", "content": "x", "name": "f"}]}, "messages.0.role"),
    ],
    ids=["n", "image-part", "bad-arguments", "tool-without-id", "function-role"],
)
def test_rejects_what_converse_cannot_express(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        codec.to_wire(request(**fields))

    assert caught.value.param == param


def test_reads_a_whole_tool_use_answer() -> None:
    chunk = codec.chunk_from_wire(fixture_json("bedrock", "tool_call.json"))

    (choice,) = chunk.choices
    assert choice.text == "Let me check the weather."
    (call,) = choice.tool_calls
    assert (call.id, call.name) == ("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather")
    assert orjson.loads(call.arguments) == {"city": "Paris", "unit": "celsius"}
    assert choice.finish_reason == "tool_calls"
    assert chunk.usage == Usage(87, 41, 128)


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("a_reason_added_later", "stop"),
    ],
)
def test_maps_stop_reason_to_finish_reason(stop: str, finish: str) -> None:
    answer = fixture_json("bedrock", "text.json")
    answer["stopReason"] = stop

    assert codec.chunk_from_wire(answer).choices[0].finish_reason == finish


def test_keeps_reasoning_apart_from_the_answer() -> None:
    answer = fixture_json("bedrock", "text.json")
    answer["output"]["message"]["content"].insert(
        0,
        {"reasoningContent": {"reasoningText": {"text": "The user greets me.", "signature": "x"}}},
    )

    (choice,) = codec.chunk_from_wire(answer).choices

    assert choice.text == "Hello! How can I help you today?"
    assert choice.extra == {"reasoning_content": "The user greets me."}


def test_stream_sends_the_role_with_the_first_content_not_before() -> None:
    chunks = translate(fixture_json("bedrock", "text.events.json"))

    assert chunks[0].choices[0].role == "assistant"
    assert chunks[0].choices[0].text == "Hello!"
    assert [c.choices[0].role for c in chunks[1:] if c.choices] == [None] * (len(chunks) - 2)


def test_stream_numbers_tool_calls_apart_from_content_blocks() -> None:
    events = fixture_json("bedrock", "tool_call.events.json")

    choices, meta = gather(translate(events))

    assert list(choices[0].tool_calls) == [0]  # content block 1 is OpenAI tool call 0
    assert meta is not None
    assert meta.usage == Usage(87, 41, 128)


@pytest.mark.parametrize(
    ("kind", "error", "retryable"),
    [
        ("throttlingException", UpstreamRateLimitError, True),
        ("validationException", UpstreamRejectedError, False),
        ("modelStreamErrorException", UpstreamError, False),
        ("internalServerException", UpstreamError, True),
        ("serviceUnavailableException", UpstreamError, True),
    ],
)
def test_stream_exception_events_become_errors(
    kind: str, error: type[UpstreamError], *, retryable: bool
) -> None:
    events = [{"exception": kind, "payload": {"message": "it went wrong"}}]

    with pytest.raises(error) as caught:
        translate(events)

    assert caught.value.retryable is retryable


def test_stream_exception_before_content_yields_nothing_first() -> None:
    """The router may fall back only before the first chunk: a throttled stream has none."""
    translator = ConverseStreamTranslator("bedrock")
    events = fixture_json("bedrock", "stream_throttled.events.json")
    start, throttled = EventStreamDecoder().feed(encode_events(events))

    assert translator.feed(start) is None
    with pytest.raises(UpstreamRateLimitError):
        translator.feed(throttled)


def test_stream_rejects_a_tool_delta_for_an_unknown_block() -> None:
    events = [
        {
            "event": "contentBlockDelta",
            "payload": {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{"}}},
        }
    ]

    with pytest.raises(UpstreamError, match="never started"):
        translate(events)


@pytest.mark.parametrize(
    ("status", "kind", "error", "retryable"),
    [
        (400, "ValidationException", UpstreamRejectedError, False),
        (403, "AccessDeniedException", UpstreamError, False),
        (429, "ThrottlingException", UpstreamRateLimitError, True),
        (429, "ModelNotReadyException", UpstreamError, True),
        (424, "ModelErrorException", UpstreamError, False),
        (408, "ModelTimeoutException", UpstreamError, True),
        (500, "InternalServerException", UpstreamError, True),
    ],
)
def test_maps_aws_errors(
    status: int, kind: str, error: type[UpstreamError], *, retryable: bool
) -> None:
    headers = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}

    mapped = codec.error_from_wire("b", status, '{"message": "details here"}', headers)

    assert type(mapped) is error or isinstance(mapped, error)
    assert mapped.retryable is retryable
    if status == 400:
        assert mapped.message == "ValidationException: details here"
