"""The OpenAI codec (also Azure's), from the conformance suite's recorded fixtures."""

from __future__ import annotations

import json

import pytest

from tests.providers.codec_fixtures import document, events
from tripoint.errors import UpstreamError, UpstreamRejectedError
from tripoint.providers.openai import codec
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.render import gather


def decode(provider: str, name: str) -> list[ChatChunk]:
    found = events(provider, name)
    assert found[-1].data == codec.DONE
    return [c for e in found[:-1] if (c := codec.chunk_from_event(e)) is not None]


@pytest.mark.parametrize("provider", ["openai", "azure_openai"])
def test_streamed_tool_call_fixture_reassembles(provider: str) -> None:
    choices, meta = gather(decode(provider, "tool_call.sse"))

    [call] = choices[0].tool_calls.values()
    assert json.loads(call["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert choices[0].finish_reason == "tool_calls"
    assert meta is not None
    assert meta.usage is not None


def test_azure_prompt_filter_chunk_has_no_choices_and_no_usage() -> None:
    first = decode("azure_openai", "text.sse")[0]

    assert first.choices == ()
    assert first.usage is None
    assert "prompt_filter_results" in first.extra


def test_whole_answer_keeps_unknown_fields_for_the_client() -> None:
    chunk = codec.chunk_from_wire(document("openai", "text.json"))

    assert chunk.choices[0].text == "Hello! How can I help you today?"
    assert chunk.extra["system_fingerprint"] == "fp_06737a9306"
    assert chunk.usage is not None
    assert chunk.usage.extra["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}


def test_error_event_in_a_stream_is_an_error() -> None:
    *_, failure = events("openai", "stream_error.sse")

    with pytest.raises(UpstreamError, match="Sorry about that"):
        codec.chunk_from_event(failure)


def test_content_filter_rejection_is_the_clients_fault() -> None:
    body = json.dumps(document("azure_openai", "error_400.json"))

    error = codec.error_from_wire("azure", 400, body, {})

    assert isinstance(error, UpstreamRejectedError)
    assert "content management policy" in error.message
