"""BedrockProvider against the SigV4-checking fake: stream exceptions and embeddings."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bedrock_upstream import API_KEY, REGION, FakeBedrock
from tests.providers.cloud.backends import BEDROCK_MODEL as MODEL
from tests.providers.cloud.backends import bedrock_backend
from tripoint.config.schema import BedrockBackend
from tripoint.errors import InvalidRequestError, UpstreamError, UpstreamRateLimitError
from tripoint.providers.bedrock.provider import BedrockProvider
from tripoint.providers.registry import build_provider
from tripoint.providers.target import BackendFacts, Target
from tripoint.schema.requests import ChatRequest, EmbeddingRequest

TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"


@pytest.fixture
async def bedrock(fake_bedrock: FakeBedrock, tmp_path: Path) -> AsyncIterator[BedrockProvider]:
    fake_bedrock.reset()
    provider = build_provider("aws", bedrock_backend(fake_bedrock.url, tmp_path))
    assert isinstance(provider, BedrockProvider)
    await provider.start()
    yield provider
    await provider.close()
    fake_bedrock.reset()


def target(fake: FakeBedrock, model: str = MODEL) -> Target:
    return Target(BackendFacts("aws", "bedrock", "cloud", REGION, False, False, ()), model)


def embedding(model: str, **fields: Any) -> EmbeddingRequest:
    return EmbeddingRequest.model_validate({"model": model, **fields})


STREAM = ChatRequest.model_validate(
    {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)


async def test_throttled_stream_fails_before_its_first_chunk(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.then(scenario="stream_throttled")
    stream = bedrock.chat(STREAM, target(fake_bedrock))

    with pytest.raises(UpstreamRateLimitError):
        await anext(stream)


async def test_model_error_mid_stream_ends_it_with_an_error(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.then(scenario="stream_error")
    stream = bedrock.chat(STREAM, target(fake_bedrock))

    first = await anext(stream)
    with pytest.raises(UpstreamError, match="modelStreamErrorException"):
        await anext(stream)

    assert first.choices[0].text == "Hello!"


PROFILE_ARN = (
    "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/"
    "eu.anthropic.claude-3-5-haiku-20241022-v1:0"
)


@pytest.mark.parametrize(
    ("model", "raw_path"),
    [
        (MODEL, f"/model/{MODEL}/converse"),
        (PROFILE_ARN, f"/model/{PROFILE_ARN.replace('/', '%2F')}/converse"),
    ],
    ids=["model-id", "inference-profile-arn"],
)
async def test_sends_the_model_id_as_one_signed_path_segment(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock, model: str, raw_path: str
) -> None:
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )

    chunks = [c async for c in bedrock.chat(request, target(fake_bedrock, model))]

    (seen,) = fake_bedrock.calls
    assert seen.raw_path == raw_path
    assert chunks[0].choices[0].text  # the fake verified the signature over that exact path


async def test_embeds_many_texts_with_titan_in_order(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    texts = ["a", "bb", "ccc", "dddd", "eeeee", "f" * 6, "g" * 7, "h" * 8, "i" * 9, "j" * 10]

    result = await bedrock.embed(
        embedding(TITAN, input=texts, dimensions=256), target(fake_bedrock, TITAN)
    )

    assert [v[0] for v in result.vectors] == [float(len(t)) for t in texts]  # type: ignore[index]
    assert len(fake_bedrock.calls) == len(texts)  # Titan embeds one text per call
    assert {c.body["dimensions"] for c in fake_bedrock.calls} == {256}
    assert result.usage is not None
    assert result.usage.prompt_tokens == 5 * len(texts)  # inputTextTokenCount per call


async def test_embeds_with_cohere_in_batches_of_96(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    texts = [f"text number {i}" for i in range(100)]

    result = await bedrock.embed(embedding(COHERE, input=texts), target(fake_bedrock, COHERE))

    assert [len(c.body["texts"]) for c in fake_bedrock.calls] == [96, 4]
    assert fake_bedrock.calls[0].body["input_type"] == "search_document"
    assert [v[0] for v in result.vectors] == [float(len(t)) for t in texts]  # type: ignore[index]
    assert result.usage is not None
    assert result.usage.prompt_tokens == 300  # from X-Amzn-Bedrock-Input-Token-Count


async def test_embeds_as_base64_when_asked(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    plain = await bedrock.embed(embedding(TITAN, input="hello"), target(fake_bedrock, TITAN))

    encoded = await bedrock.embed(
        embedding(TITAN, input="hello", encoding_format="base64"), target(fake_bedrock, TITAN)
    )

    raw = base64.b64decode(encoded.vectors[0])  # type: ignore[arg-type]
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(plain.vectors[0], rel=1e-6)


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("meta.llama3-8b-instruct-v1:0", {"input": "x"}),
        (TITAN, {"input": [1, 2, 3]}),
    ],
    ids=["not-an-embedding-model", "token-ids"],
)
async def test_rejects_embeddings_bedrock_cannot_serve(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock, model: str, fields: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError):
        await bedrock.embed(embedding(model, **fields), target(fake_bedrock, model))

    assert fake_bedrock.calls == []


async def test_embedding_errors_map_like_chat_errors(
    bedrock: BedrockProvider, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.then(status=429, headers={"Retry-After": "3"})

    with pytest.raises(UpstreamRateLimitError) as caught:
        await bedrock.embed(embedding(TITAN, input="x"), target(fake_bedrock, TITAN))

    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize(("key", "accepted"), [(API_KEY, True), ("ABSKnot-a-key", False)])
async def test_authenticates_with_a_bedrock_api_key_instead_of_sigv4(
    fake_bedrock: FakeBedrock, tmp_path: Path, key: str, *, accepted: bool
) -> None:
    fake_bedrock.reset()
    (tmp_path / "api_key").write_text(key)
    backend = BedrockBackend.model_validate(
        {
            "type": "bedrock",
            "region": REGION,
            "base_url": fake_bedrock.url,
            "api_key": f"file:{tmp_path / 'api_key'}",
        }
    )
    provider = build_provider("aws", backend)
    assert isinstance(provider, BedrockProvider)
    await provider.start()
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )

    try:
        if accepted:
            chunks = [c async for c in provider.chat(request, target(fake_bedrock))]
            assert chunks[0].choices[0].text == "Hello! How can I help you today?"
        else:
            with pytest.raises(UpstreamError) as caught:
                [c async for c in provider.chat(request, target(fake_bedrock))]
            assert caught.value.upstream_status == 403
    finally:
        await provider.close()

    assert fake_bedrock.calls[-1].headers["Authorization"] == f"Bearer {key}"
    assert "X-Amz-Date" not in fake_bedrock.calls[-1].headers


async def test_sends_the_configured_guardrail_with_every_chat(
    fake_bedrock: FakeBedrock, tmp_path: Path
) -> None:
    fake_bedrock.reset()
    config = bedrock_backend(fake_bedrock.url, tmp_path).model_dump(mode="json")
    config.update(
        access_key_id=f"file:{tmp_path / 'aws_key_id'}",
        secret_access_key=f"file:{tmp_path / 'aws_secret'}",
        guardrail={"identifier": "gr-abc123", "version": "2", "trace": "enabled"},
    )
    config.pop("session_token", None)
    provider = build_provider("aws", BedrockBackend.model_validate(config))
    assert isinstance(provider, BedrockProvider)
    await provider.start()
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )

    try:
        [c async for c in provider.chat(request, target(fake_bedrock))]
    finally:
        await provider.close()

    assert fake_bedrock.calls[-1].body["guardrailConfig"] == {
        "guardrailIdentifier": "gr-abc123",
        "guardrailVersion": "2",
        "trace": "enabled",
    }
