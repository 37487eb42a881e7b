"""The TGI codec and chat template, tested from recorded wire fixtures with no server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tripoint.config.schema import PromptTemplate
from tripoint.errors import InvalidRequestError, UpstreamError, UpstreamRejectedError
from tripoint.providers.sse import SSEDecoder
from tripoint.providers.tgi import codec, template
from tripoint.schema.chunks import ChatChunk, Usage
from tripoint.schema.render import Identity, chat_response_json
from tripoint.schema.requests import ChatRequest, CompletionRequest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tgi"
CHATML = template.resolve("chatml")


def chat(**fields: object) -> ChatRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "Hello!"}], **fields}
    return ChatRequest.model_validate_json(orjson.dumps(body))


def stream_chunks(name: str) -> tuple[list[ChatChunk], bool]:
    chunks: list[ChatChunk] = [codec.OPENING]
    done = False
    for event in SSEDecoder().feed((FIXTURES / name).read_bytes()):
        more, done = codec.chunks_from_event(event)
        chunks.extend(more)
    return chunks, done


def test_whole_answer_takes_prompt_tokens_from_the_prefill() -> None:
    chunk = codec.chunk_from_generate(
        orjson.loads((FIXTURES / "text.json").read_bytes()), chat=True
    )

    assert chunk.choices[0].text == "Hello! How can I help you today?"
    assert chunk.choices[0].finish_reason == "stop"
    assert chunk.usage == Usage(11, 10, 21)


def test_stream_skips_special_tokens_and_ends_with_usage_from_input_length() -> None:
    chunks, done = stream_chunks("text.sse")

    whole = chat_response_json(chunks, Identity(id="x", model="public"))

    assert done
    assert whole["choices"][0]["message"] == {  # type: ignore[index]
        "role": "assistant",
        "content": "Hello! How can I help you today?",
    }
    assert whole["usage"] == {"prompt_tokens": 11, "completion_tokens": 10, "total_tokens": 21}
    assert whole["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert chunks[-1].choices == (), "usage comes alone, last"


def test_error_event_mid_stream_raises() -> None:
    with pytest.raises(UpstreamError, match="CUDA out of memory"):
        stream_chunks("stream_error.sse")


def test_chatml_prompt_opens_the_assistants_turn_and_stops_at_its_end() -> None:
    body = codec.chat_to_wire(
        chat(
            messages=[
                {"role": "developer", "content": "Be terse."},
                {"role": "user", "content": "Hi"},
            ]
        ),
        CHATML,
    )

    assert body["inputs"] == (
        "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert body["parameters"]["stop"] == ["<|im_end|>"]  # type: ignore[index]


def test_message_text_is_never_read_as_a_placeholder() -> None:
    custom = PromptTemplate(turn="[{role}] {content}\n", generation="[assistant] ")

    body = codec.chat_to_wire(chat(messages=[{"role": "user", "content": "say {role}"}]), custom)

    assert body["inputs"] == "[user] say {role}\n[assistant] "


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"temperature": 0}, {}),
        ({"temperature": 0.7, "top_p": 1}, {"do_sample": True, "temperature": 0.7}),
        ({"top_p": 0.9, "seed": 0}, {"top_p": 0.9}),
        ({"max_completion_tokens": 5, "seed": 42}, {"max_new_tokens": 5, "seed": 42}),
    ],
)
def test_sampling_fields_respect_tgis_bounds(
    fields: dict[str, object], expected: dict[str, object]
) -> None:
    parameters = codec.chat_to_wire(chat(**fields), CHATML)["parameters"]

    assert isinstance(parameters, dict)
    sampling = {
        k: v for k, v in parameters.items() if k not in ("details", "decoder_input_details", "stop")
    }
    assert sampling == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"n": 2},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"messages": [{"role": "tool", "content": "x", "tool_call_id": "c"}]},
    ],
)
def test_what_tgis_native_api_cannot_do_is_a_clear_400(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidRequestError):
        codec.chat_to_wire(chat(**fields), CHATML)


def test_completion_prompt_is_sent_as_is() -> None:
    request = CompletionRequest.model_validate_json(b'{"model": "m", "prompt": "Once upon"}')

    assert codec.completion_to_wire(request)["inputs"] == "Once upon"


def test_validation_error_is_the_clients_fault_with_tgis_message() -> None:
    error = codec.error_from_wire("tgi", 422, (FIXTURES / "error_400.json").read_text(), {})

    assert isinstance(error, UpstreamRejectedError)
    assert "must be <= 4096" in error.message


@pytest.mark.parametrize("body", [b"[]", b'{"details": null}', b'{"generated_text": 3}'])
def test_a_malformed_answer_is_an_upstream_error(body: bytes) -> None:
    with pytest.raises(UpstreamError):
        codec.chunk_from_generate(orjson.loads(body), chat=True)
