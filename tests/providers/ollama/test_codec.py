"""The Ollama codec, tested from recorded wire fixtures with no server."""

from __future__ import annotations

import base64
import itertools
import struct
from pathlib import Path

import orjson
import pytest

from tripoint.errors import InvalidRequestError, UpstreamError, UpstreamRateLimitError
from tripoint.providers.ollama import codec
from tripoint.schema.chunks import ChatChunk, Usage
from tripoint.schema.render import Identity, chat_response_json
from tripoint.schema.requests import ChatRequest, EmbeddingRequest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ollama"


def decoder() -> codec.ChatDecoder:
    counter = itertools.count()
    return codec.ChatDecoder(lambda: f"call_{next(counter)}")


def stream(name: str) -> tuple[list[ChatChunk], bool]:
    decoding = decoder()
    chunks: list[ChatChunk] = []
    for line in (FIXTURES / name).read_bytes().splitlines():
        chunks.extend(decoding.stream(codec.parse_line(line)))
    return chunks, decoding.done


def chat(**fields: object) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "Hello!"}], **fields}
    return ChatRequest.model_validate_json(orjson.dumps(body))


def test_stream_text_then_usage_from_the_eval_counts() -> None:
    chunks, done = stream("text.ndjson")

    whole = chat_response_json(chunks, Identity(id="x", model="public"))

    assert done
    assert whole["choices"][0]["message"]["content"] == "Hello! How can I help you today?"  # type: ignore[index]
    assert whole["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert chunks[-1].usage == Usage(26, 10, 36)


def test_tool_call_arguments_object_becomes_a_json_string_with_a_new_id() -> None:
    chunk = decoder().whole(orjson.loads((FIXTURES / "tool_call.json").read_bytes()))

    whole = chat_response_json([chunk], Identity(id="x", model="public"))

    message = whole["choices"][0]["message"]  # type: ignore[index]
    assert message["tool_calls"] == [  # type: ignore[index]
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'},
        }
    ]
    assert whole["choices"][0]["finish_reason"] == "tool_calls"  # type: ignore[index]


def test_an_error_line_mid_stream_raises() -> None:
    with pytest.raises(UpstreamError, match="unexpected EOF"):
        stream("stream_error.ndjson")


def test_a_stream_without_its_done_line_is_not_done() -> None:
    lines = (FIXTURES / "text.ndjson").read_bytes().splitlines()[:-1]
    decoding = decoder()

    for line in lines:
        decoding.stream(codec.parse_line(line))

    assert decoding.done is False


def test_assistant_tool_calls_and_tool_results_are_sent_natively() -> None:
    request = chat(
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "w", "arguments": '{"a": 1}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ]
    )

    body = codec.chat_to_wire(request, "llama3.2", {"num_ctx": 8192}, "5m")

    assert body["messages"][1]["tool_calls"] == [{"function": {"name": "w", "arguments": {"a": 1}}}]  # type: ignore[index]
    assert body["messages"][2] == {"role": "tool", "content": "sunny", "tool_name": "w"}  # type: ignore[index]
    assert body["options"] == {"num_ctx": 8192}
    assert body["keep_alive"] == "5m"


def test_sampling_goes_into_options_over_the_backends_defaults() -> None:
    body = codec.chat_to_wire(
        chat(temperature=0, max_tokens=7, stop="END", seed=3), "m", {"temperature": 0.8}, None
    )

    assert body["options"] == {"temperature": 0, "num_predict": 7, "stop": ["END"], "seed": 3}


def test_json_response_format_and_data_url_images() -> None:
    request = chat(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                ],
            }
        ],
        response_format={"type": "json_object"},
    )

    body = codec.chat_to_wire(request, "llava", {}, None)

    assert body["messages"][0] == {
        "role": "user",
        "content": "What is this?",
        "images": ["iVBORw0K"],
    }  # type: ignore[index]
    assert body["format"] == "json"


def test_remote_image_urls_are_refused() -> None:
    request = chat(
        messages=[
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
            }
        ]
    )

    with pytest.raises(InvalidRequestError):
        codec.chat_to_wire(request, "llava", {}, None)


def test_embeddings_with_usage_and_openai_base64() -> None:
    body = orjson.loads((FIXTURES / "embed.json").read_bytes())

    floats = codec.embedding_from_wire(body, base64_vectors=False)
    packed = codec.embedding_from_wire(body, base64_vectors=True)

    assert floats.vectors[0] == [0.010071029, -0.0017594862, 0.05007221, 0.04692972]
    assert floats.usage == Usage(8, 0, 8)
    decoded = struct.unpack("<4f", base64.b64decode(packed.vectors[0]))  # type: ignore[arg-type]
    assert decoded == pytest.approx(floats.vectors[0])


def test_token_id_embedding_input_is_refused() -> None:
    request = EmbeddingRequest.model_validate_json(b'{"model": "m", "input": [1, 2, 3]}')

    with pytest.raises(InvalidRequestError):
        codec.embed_to_wire(request, "m", None)


def test_busy_server_is_a_rate_limit_with_retry_after() -> None:
    error = codec.error_from_wire(
        "ollama", 429, (FIXTURES / "error_429.json").read_text(), {"Retry-After": "3"}
    )

    assert isinstance(error, UpstreamRateLimitError)
    assert error.retry_after == 3
