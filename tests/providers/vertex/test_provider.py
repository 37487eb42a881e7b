"""VertexProvider against the fake: URLs per project/location, and text embeddings."""

from __future__ import annotations

import base64
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex
from tests.providers.cloud.backends import VERTEX_MODEL as MODEL
from tests.providers.cloud.backends import vertex_backend
from tripoint.errors import InvalidRequestError, UpstreamRateLimitError
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.target import Target
from tripoint.providers.vertex.provider import VertexProvider
from tripoint.schema.requests import ChatRequest, EmbeddingRequest

EMBED = "text-embedding-005"


@pytest.fixture
async def vertex(fake_vertex: FakeVertex, tmp_path: Path) -> AsyncIterator[VertexProvider]:
    fake_vertex.reset()
    provider = build_provider("gcp", vertex_backend(fake_vertex, tmp_path))
    assert isinstance(provider, VertexProvider)
    await provider.start()
    yield provider
    await provider.close()
    fake_vertex.reset()


@pytest.fixture
def target(fake_vertex: FakeVertex, tmp_path: Path) -> Target:
    return Target(facts_of("gcp", vertex_backend(fake_vertex, tmp_path)), EMBED)


def embedding(**fields: Any) -> EmbeddingRequest:
    return EmbeddingRequest.model_validate({"model": "e", **fields})


async def test_calls_the_publisher_model_of_its_project_and_location(
    vertex: VertexProvider, fake_vertex: FakeVertex, target: Target
) -> None:
    request = ChatRequest.model_validate(
        {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )

    [c async for c in vertex.chat(request, Target(target.backend, MODEL))]

    (seen,) = fake_vertex.calls
    assert seen.path == (
        f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/"
        f"{MODEL}:streamGenerateContent"
    )
    assert seen.raw_path.endswith("?alt=sse")


async def test_calls_a_tuned_model_endpoint_named_in_full(
    vertex: VertexProvider, fake_vertex: FakeVertex, target: Target
) -> None:
    endpoint = f"projects/{PROJECT}/locations/{LOCATION}/endpoints/1234567890"
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )

    chunks = [c async for c in vertex.chat(request, Target(target.backend, endpoint))]

    assert fake_vertex.calls[0].path == f"/v1/{endpoint}:generateContent"
    assert chunks[0].choices[0].text == "Hello! How can I help you today?"


async def test_embeds_texts_in_order_with_token_usage(
    vertex: VertexProvider, fake_vertex: FakeVertex, target: Target
) -> None:
    texts = ["one", "two words", "three words here"]

    result = await vertex.embed(embedding(input=texts, dimensions=256), target)

    (seen,) = fake_vertex.calls
    assert seen.body == {
        "instances": [{"content": t} for t in texts],
        "parameters": {"outputDimensionality": 256},
    }
    assert [v[0] for v in result.vectors] == [3.0, 9.0, 16.0]  # type: ignore[index]
    assert result.usage is not None
    assert result.usage.prompt_tokens == 6


async def test_passes_the_task_type_through(
    vertex: VertexProvider, fake_vertex: FakeVertex, target: Target
) -> None:
    await vertex.embed(embedding(input="q", task_type="RETRIEVAL_QUERY"), target)

    assert fake_vertex.calls[0].body["instances"] == [
        {"content": "q", "task_type": "RETRIEVAL_QUERY"}
    ]


async def test_embeds_as_base64_when_asked(vertex: VertexProvider, target: Target) -> None:
    result = await vertex.embed(embedding(input="abc", encoding_format="base64"), target)

    raw = base64.b64decode(result.vectors[0])  # type: ignore[arg-type]
    assert struct.unpack(f"<{len(raw) // 4}f", raw)[0] == 3.0


async def test_rejects_token_id_input(
    vertex: VertexProvider, fake_vertex: FakeVertex, target: Target
) -> None:
    with pytest.raises(InvalidRequestError):
        await vertex.embed(embedding(input=[[1, 2], [3]]), target)

    assert fake_vertex.calls == []


async def test_embedding_errors_map_like_chat_errors(
    vertex: VertexProvider, fake_vertex: FakeVertex, target: Target
) -> None:
    fake_vertex.then(status=429, headers={"Retry-After": "2"})

    with pytest.raises(UpstreamRateLimitError) as caught:
        await vertex.embed(embedding(input="x"), target)

    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize(
    ("model", "calls"),
    [("text-embedding-005", [250, 50]), ("gemini-embedding-001", [1, 1, 1])],
)
async def test_batches_texts_as_each_model_allows(
    vertex: VertexProvider, fake_vertex: FakeVertex, target: Target, model: str, calls: list[int]
) -> None:
    texts = ["x" * (i % 50 + 1) for i in range(sum(calls))]

    result = await vertex.embed(embedding(input=texts), Target(target.backend, model))

    assert sorted(len(c.body["instances"]) for c in fake_vertex.calls) == sorted(calls)
    assert [v[0] for v in result.vectors] == [float(len(t)) for t in texts]  # type: ignore[index]
