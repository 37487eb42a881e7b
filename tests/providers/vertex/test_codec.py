"""The Gemini-on-Vertex codec, from recorded fixtures, without a server."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.fakes.loopback import fixture, fixture_json
from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.sse import SSEDecoder
from tripoint.providers.vertex import codec, response
from tripoint.schema.chunks import ChatChunk, Usage
from tripoint.schema.render import gather
from tripoint.schema.requests import ChatRequest


def request(**fields: Any) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return ChatRequest.model_validate(body)


def translate(sse: bytes) -> list[ChatChunk]:
    translator = response.GenerateContentStreamTranslator()
    chunks = [c for e in SSEDecoder().feed(sse) if (c := translator.feed(e))]
    return [*chunks, translator.finish()]


def test_translates_a_tool_round_trip_to_the_recorded_gemini_body() -> None:
    openai = ChatRequest.model_validate(fixture_json("", "openai_tool_round_trip.json"))

    body = codec.to_wire(openai)

    assert body == fixture_json("vertex", "request_tool_round_trip.json")


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_maps_tool_choice(choice: object, config: dict[str, Any]) -> None:
    tool = {"type": "function", "function": {"name": "get_weather"}}

    body = codec.to_wire(request(tools=[tool], tool_choice=choice))

    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_maps_sampling_and_json_mode() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}

    body = codec.to_wire(
        request(
            n=2,
            seed=7,
            max_completion_tokens=64,
            stop="\n\n",
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        )
    )

    assert body["generationConfig"] == {
        "maxOutputTokens": 64,
        "stopSequences": ["\n\n"],
        "candidateCount": 2,
        "seed": 7,
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


def test_rejects_a_tool_result_for_no_known_call() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "tool", "tool_call_id": "nope", "content": "x"},
    ]

    with pytest.raises(InvalidRequestError) as caught:
        codec.to_wire(request(messages=messages))

    assert caught.value.param == "messages.1.tool_call_id"


def test_reads_a_whole_function_call_answer() -> None:
    chunk = response.chunk_from_wire(fixture_json("vertex", "tool_call.json"))

    (choice,) = chunk.choices
    assert choice.role == "assistant"
    assert choice.text == "Let me check the weather."
    (call,) = choice.tool_calls
    assert call.name == "get_weather"
    assert orjson.loads(call.arguments) == {"city": "Paris", "unit": "celsius"}
    assert choice.finish_reason == "tool_calls"
    assert chunk.usage == Usage(87, 41, 128)
    assert chunk.id == "JjGwabXqGs3nitYP3KqtgQY"


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_maps_finish_reason(reason: str, finish: str) -> None:
    answer = fixture_json("vertex", "text.json")
    answer["candidates"][0]["finishReason"] = reason

    assert response.chunk_from_wire(answer).choices[0].finish_reason == finish


def test_a_blocked_prompt_is_a_content_filter_finish() -> None:
    answer = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
    }

    chunk = response.chunk_from_wire(answer)

    assert chunk.choices[0].finish_reason == "content_filter"
    assert chunk.usage == Usage(8, 0, 8)


def test_counts_thinking_tokens_as_completion_and_keeps_thoughts_apart() -> None:
    answer = fixture_json("vertex", "text.json")
    answer["candidates"][0]["content"]["parts"].insert(0, {"text": "Greeting.", "thought": True})
    answer["usageMetadata"] = {
        "promptTokenCount": 12,
        "candidatesTokenCount": 9,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 51,
    }

    chunk = response.chunk_from_wire(answer)

    assert chunk.choices[0].text == "Hello! How can I help you today?"
    assert chunk.choices[0].extra == {"reasoning_content": "Greeting."}
    assert chunk.usage == Usage(12, 39, 51)


def test_stream_reports_usage_once_at_the_end() -> None:
    chunks = translate(fixture("vertex", "text.sse"))

    assert [c.usage for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].usage == Usage(12, 9, 21)


def test_stream_marks_the_finish_as_tool_calls_after_a_function_call() -> None:
    choices, _ = gather(translate(fixture("vertex", "tool_call.sse")))

    assert choices[0].finish_reason == "tool_calls"
    assert list(choices[0].tool_calls) == [0]


def test_stream_error_event_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="INTERNAL: Internal error encountered"):
        translate(fixture("vertex", "stream_error.sse"))


def test_stream_without_a_finish_reason_was_cut_short() -> None:
    sse = fixture("vertex", "text.sse")

    with pytest.raises(UpstreamError, match="before the answer finished"):
        translate(sse[: sse.rfind(b"data:")])


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (429, True), (500, True), (503, True)]
)
def test_maps_google_errors(status: int, *, retryable: bool) -> None:
    body = fixture("vertex", f"error_{status}.json").decode()

    mapped = codec.error_from_wire("v", status, body, {})

    assert mapped.retryable is retryable
    assert mapped.upstream_status == status
    if status == 400:
        assert mapped.message.startswith("INVALID_ARGUMENT: Invalid JSON payload")


def test_round_trips_the_thought_signature_of_a_function_call_in_its_id() -> None:
    answer = fixture_json("vertex", "tool_call.json")
    answer["candidates"][0]["content"]["parts"][1]["thoughtSignature"] = "CiQBcsjafQ+sig/A=="
    (call,) = response.chunk_from_wire(answer).choices[0].tool_calls
    assert call.id is not None
    follow_up = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]

    body = codec.to_wire(request(messages=follow_up))

    sent = body["contents"][1]["parts"][0]  # type: ignore[index]
    assert sent["thoughtSignature"] == "CiQBcsjafQ+sig/A=="  # type: ignore[index,call-overload]
    assert sent["functionCall"] == {
        "name": "get_weather",
        "args": {"city": "Paris", "unit": "celsius"},
    }  # type: ignore[index,call-overload]
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"  # type: ignore[index,call-overload]
