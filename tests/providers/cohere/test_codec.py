"""The Cohere codec, from recorded fixtures and requests, without a server."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import orjson
import pytest

from tests.providers.codec_fixtures import document, events
from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.cohere import codec
from tripoint.providers.sse import ServerSentEvent
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.render import gather
from tripoint.schema.requests import ChatRequest, EmbeddingRequest


def chat(**body: Any) -> ChatRequest:
    return ChatRequest.model_validate_json(orjson.dumps({"model": "m", **body}))


def wire(**body: Any) -> dict[str, Any]:
    return codec.to_wire(chat(**{"messages": [{"role": "user", "content": "x"}], **body}), "c")


def decode(name: str) -> list[ChatChunk]:
    decoder = codec.StreamDecoder()
    chunks = [chunk for event in events("cohere", name) for chunk in decoder.feed(event)]
    assert decoder.finished
    return chunks


def embed_request(**body: Any) -> EmbeddingRequest:
    return EmbeddingRequest.model_validate_json(orjson.dumps({"model": "e", **body}))


def test_streamed_text_fixture_becomes_openai_chunks() -> None:
    chunks = decode("text.sse")

    choices, meta = gather(chunks)
    assert "".join(choices[0].text) == "Hello! How can I help you today?"
    assert choices[0].finish_reason == "stop"
    assert meta is not None
    assert meta.usage is not None
    assert meta.usage.total_tokens == 12
    assert chunks[-1].usage is not None
    assert not chunks[-1].choices


def test_streamed_tool_plan_is_content_and_arguments_are_reassembled() -> None:
    choices, _ = gather(decode("tool_call.sse"))

    assert "".join(choices[0].text) == "I will look up the current weather in Paris."
    [call] = choices[0].tool_calls.values()
    assert call["id"] == "get_weather_1byjy32y4hvq"
    assert json.loads(call["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert choices[0].finish_reason == "tool_calls"


def test_assistant_text_beside_tool_calls_is_sent_as_tool_plan() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}

    body = wire(messages=[{"role": "assistant", "content": "Let me look.", "tool_calls": [call]}])

    assert body["messages"] == [
        {"role": "assistant", "tool_calls": [call], "tool_plan": "Let me look."}
    ]


@pytest.mark.parametrize(
    ("choice", "expected"), [("auto", None), ("required", "REQUIRED"), ("none", "NONE")]
)
def test_tool_choice_maps_to_cohere(choice: str, expected: str | None) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}

    body = wire(tools=[tool], tool_choice=choice)

    assert body.get("tool_choice") == expected
    assert body["tools"] == [tool]


def test_forcing_one_named_tool_is_refused() -> None:
    tool = {"type": "function", "function": {"name": "f"}}

    with pytest.raises(InvalidRequestError, match="named tool"):
        wire(tools=[tool], tool_choice={"type": "function", "function": {"name": "f"}})


def test_sampling_and_json_schema_use_cohere_names() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}

    body = wire(
        top_p=0.9,
        seed=7,
        k=40,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    )

    assert (body["p"], body["seed"], body["k"]) == (0.9, 7, 40)
    assert body["response_format"] == {"type": "json_object", "json_schema": schema}


def test_failed_generation_is_an_error_not_a_finish() -> None:
    answer = {"finish_reason": "ERROR", "message": {"role": "assistant", "content": []}}

    with pytest.raises(UpstreamError, match="ERROR"):
        codec.chunk_from_wire(answer)


def test_usage_prefers_billed_units_then_tokens() -> None:
    billed = codec.usage_from_wire(document("cohere", "text.json")["usage"])
    raw = codec.usage_from_wire({"tokens": {"input_tokens": 198, "output_tokens": 9}})

    assert (billed.prompt_tokens, billed.completion_tokens) == (3, 9)
    assert (raw.prompt_tokens, raw.total_tokens) == (198, 207)


def test_embed_request_names_input_type_and_dimensions() -> None:
    default = codec.embed_to_wire(embed_request(input="hi"), "embed-v4.0", input_type="clustering")
    chosen = codec.embed_to_wire(
        embed_request(input=["a"], input_type="search_query", dimensions=256),
        "embed-v4.0",
        input_type="clustering",
    )

    assert default["input_type"] == "clustering"
    assert default["texts"] == ["hi"]
    assert (chosen["input_type"], chosen["output_dimension"]) == ("search_query", 256)


def test_token_id_input_is_refused_for_cohere_embeddings() -> None:
    with pytest.raises(InvalidRequestError, match="token ids"):
        codec.embed_to_wire(embed_request(input=[1, 2, 3]), "e", input_type="search_document")


def test_embeddings_fixture_as_floats_and_as_openai_base64() -> None:
    floats = codec.embedding_from_wire(document("cohere", "embed.json"), encoding="float")
    packed = codec.embedding_from_wire(document("cohere", "embed.json"), encoding="base64")

    assert len(floats.vectors) == 2
    assert floats.usage is not None
    assert floats.usage.prompt_tokens == 2
    assert isinstance(packed.vectors[0], str)
    unpacked = struct.unpack("<4f", base64.b64decode(packed.vectors[0]))
    assert unpacked == pytest.approx(floats.vectors[0])


def test_invalid_api_token_status_498_is_a_credentials_error() -> None:
    error = codec.error_from_wire("co", 498, json.dumps({"message": "invalid api token"}), {})

    assert error.upstream_status == 401
    assert error.retryable is False


def test_reasoning_model_thinking_is_reasoning_content() -> None:
    decoder = codec.StreamDecoder()
    thinking = {
        "type": "content-delta",
        "index": 0,
        "delta": {"message": {"content": {"thinking": "Hmm."}}},
    }
    text = {
        "type": "content-delta",
        "index": 1,
        "delta": {"message": {"content": {"text": "Yes."}}},
    }

    chunks = [c for p in (thinking, text) for c in decoder.feed(ServerSentEvent(json.dumps(p)))]
    whole = codec.chunk_from_wire(
        {
            "finish_reason": "COMPLETE",
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Hmm."},
                    {"type": "text", "text": "Yes."},
                ],
            },
        }
    )

    choices, _ = gather(chunks)
    assert choices[0].extra == {"reasoning_content": "Hmm."}
    assert "".join(choices[0].text) == "Yes."
    assert whole.choices[0].extra == {"reasoning_content": "Hmm."}
    assert whole.choices[0].text == "Yes."
