"""The OpenAI codec, tested from recorded wire fixtures with no server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tripoint.errors import UpstreamError, UpstreamRateLimitError, UpstreamRejectedError
from tripoint.providers.openai import codec
from tripoint.providers.sse import SSEDecoder
from tripoint.schema.chunks import ChatChunk, Usage
from tripoint.schema.render import Identity, chat_response_json
from tripoint.schema.requests import ChatRequest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"


def stream_chunks(name: str) -> list[ChatChunk]:
    events = SSEDecoder().feed((FIXTURES / name).read_bytes())
    return [c for e in events if e.data != codec.DONE if (c := codec.chunk_from_event(e))]


def test_stream_tool_call_arguments_are_reassembled() -> None:
    chunks = stream_chunks("chat_stream_tool_call.sse")

    whole = chat_response_json(chunks, Identity(id="x", model="public"))

    call = whole["choices"][0]["message"]["tool_calls"][0]  # type: ignore[index]
    assert call == {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
    }
    assert whole["choices"][0]["finish_reason"] == "tool_calls"  # type: ignore[index]
    assert whole["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}  # type: ignore[index]
    assert whole["system_fingerprint"] == "fp_44709d6fcb"


def test_stream_usage_is_extracted() -> None:
    chunks = stream_chunks("chat_stream_tool_call.sse")

    assert chunks[-1].usage == Usage(82, 17, 99, {"prompt_tokens_details": {"cached_tokens": 0}})


def test_whole_response_round_trips_with_unknown_fields() -> None:
    payload = orjson.loads((FIXTURES / "chat_completion.json").read_bytes())

    whole = chat_response_json([codec.chunk_from_wire(payload)], Identity(id="x", model="public"))

    assert whole["id"] == payload["id"]
    assert whole["model"] == "public"
    assert whole["service_tier"] == "default"
    assert whole["choices"] == payload["choices"]
    assert whole["usage"] == payload["usage"]


def test_to_wire_keeps_unknown_fields_and_asks_for_stream_usage() -> None:
    request = ChatRequest.model_validate_json(
        b'{"model": "public", "stream": true, "top_k": 3,'
        b' "messages": [{"role": "user", "content": "hi", "cache_control": {"type": "x"}}]}'
    )

    body = codec.to_wire(request, "private")

    assert body["model"] == "private"
    assert body["top_k"] == 3
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi", "cache_control": {"type": "x"}}]
    assert "temperature" not in body  # defaults are not invented


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (400, UpstreamRejectedError, False),
        (429, UpstreamRateLimitError, True),
        (500, UpstreamError, True),
        (501, UpstreamError, False),
        (401, UpstreamError, False),
    ],
)
def test_error_status_decides_retry(
    status: int, error: type[UpstreamError], *, retryable: bool
) -> None:
    body = '{"error": {"message": "nope", "type": "x"}}'

    mapped = codec.error_from_wire("b", status, body, {"retry-after-ms": "1500"})

    assert type(mapped) is error
    assert mapped.retryable is retryable
    if status == 429:
        assert mapped.retry_after == 1.5


def test_error_event_mid_stream_raises() -> None:
    event = SSEDecoder().feed(b'data: {"error": {"message": "overloaded"}}\n\n')[0]

    with pytest.raises(UpstreamError, match="overloaded"):
        codec.chunk_from_event(event)


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'"a string"',
        b'{"choices": {}}',
        b'{"choices": [{"delta": []}]}',
        b'{"choices": [{"delta": {"tool_calls": [{"index": "0"}]}}]}',
        b'{"choices": [], "usage": {"prompt_tokens": "many"}}',
    ],
)
def test_malformed_events_are_upstream_errors(data: bytes) -> None:
    event = SSEDecoder().feed(b"data: " + data + b"\n\n")[0]

    with pytest.raises(UpstreamError, match="malformed"):
        codec.chunk_from_event(event)
