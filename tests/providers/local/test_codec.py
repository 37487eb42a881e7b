"""OpenAI requests to engine generations and back, without an engine."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tripoint.engine import ChatTurn, EngineBusyError, InputTooLongError, ModelLoadError, Piece
from tripoint.errors import (
    InvalidRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
)
from tripoint.providers.local import codec
from tripoint.schema.chunks import Usage
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest

HELLO = [{"role": "user", "content": "Hello"}]


def chat(**fields: object) -> ChatRequest:
    return ChatRequest.model_validate({"model": "m", "messages": HELLO, **fields})


def test_chat_request_becomes_turns_and_sampling() -> None:
    request = chat(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        ],
        max_completion_tokens=7,
        temperature=0,
        stop="END",
        seed=3,
    )

    generation = codec.chat_generation(request)

    assert generation.prompt == (ChatTurn("system", "Be brief."), ChatTurn("user", "Hi"))
    assert (generation.max_tokens, generation.temperature, generation.seed) == (7, 0, 3)
    assert generation.stop == ("END",)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "text": None}]}]},
            "messages.0.content",
        ),
    ],
)
def test_refuses_what_local_models_cannot_honour(fields: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        codec.chat_generation(chat(**fields))

    assert caught.value.param == param


@pytest.mark.parametrize("prompt", [[1, 2, 3], ["a", "b"], [[1, 2]]])
def test_completion_takes_one_text_prompt(prompt: object) -> None:
    request = CompletionRequest.model_validate({"model": "m", "prompt": prompt})

    with pytest.raises(InvalidRequestError, match="one text prompt"):
        codec.completion_generation(request)


def test_completion_prompt_in_a_one_item_list_is_accepted() -> None:
    request = CompletionRequest.model_validate({"model": "m", "prompt": ["Once"]})

    assert codec.completion_generation(request).prompt == "Once"


def test_last_piece_ends_the_choice_then_reports_usage() -> None:
    piece = Piece("end.", "stop", prompt_tokens=5, completion_tokens=3)

    chunks = list(codec.chunks_from_piece(piece, chat=True, first=False))

    assert [c.choices[0].text for c in chunks[:1]] == ["end."]
    assert chunks[1].choices[0].finish_reason == "stop"
    assert chunks[2].usage == Usage(5, 3, 8)
    assert chunks[2].choices == ()


def test_first_chat_piece_carries_the_assistant_role() -> None:
    chunks = list(codec.chunks_from_piece(Piece("Hi"), chat=True, first=True))

    assert chunks[0].choices[0].role == "assistant"


def test_embedding_input_must_be_text() -> None:
    request = EmbeddingRequest.model_validate({"model": "m", "input": [1, 2, 3]})

    with pytest.raises(InvalidRequestError, match="string"):
        codec.embedding_texts(request)


def test_base64_vectors_are_little_endian_float32() -> None:
    encoded = codec.base64_vector([0.5, -1.0])

    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")

    assert decoded.tolist() == [0.5, -1.0]


@pytest.mark.parametrize(
    ("error", "expected", "status"),
    [
        (InputTooLongError("long"), UpstreamRejectedError, 400),
        (EngineBusyError("busy"), UpstreamRateLimitError, 429),
        (ModelLoadError("missing"), UpstreamError, 502),
    ],
)
def test_engine_errors_map_to_gateway_errors(
    error: Exception, expected: type[UpstreamError], status: int
) -> None:
    with pytest.raises(expected) as caught, codec.engine_errors("local"):
        raise error

    assert caught.value.status == status
