"""Embeddings from the default all-MiniLM-L6-v2 (int8 ONNX) against an independent reference."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.engine.models import minilm, reference_wheel
from tests.engine.reference_bert import ReferenceMiniLM
from tripoint.engine import Engine, Kind, ModelSpec

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Tripoint runs models inside the gateway's own process.",
    "A gateway applies the same controls to every inference call.",
]


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = Engine([ModelSpec("minilm", minilm(), Kind.EMBED, context=256, batch=2)])
    await engine.start()
    yield engine
    await engine.close()


@pytest.fixture(scope="module")
def reference() -> ReferenceMiniLM:
    return ReferenceMiniLM(reference_wheel())


async def test_vectors_are_unit_length_and_in_input_order(engine: Engine) -> None:
    result = await engine.embed("minilm", ["food", *SENTENCES])

    vectors = np.array(result.vectors)
    alone = np.array((await engine.embed("minilm", [SENTENCES[1]])).vectors[0])
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[2] @ alone) > 0.99999  # batching (and padding) changes nothing
    assert result.tokens > 4 * 3  # [CLS] ... [SEP] around every input


async def test_related_words_are_closer_than_unrelated(engine: Engine) -> None:
    result = await engine.embed("minilm", ["food", "bread", "movie"])

    food, bread, movie = (np.array(v) for v in result.vectors)

    assert food @ bread > food @ movie


@pytest.mark.slow
async def test_sentences_match_the_reference_model(
    engine: Engine, reference: ReferenceMiniLM
) -> None:
    result = await engine.embed("minilm", SENTENCES)

    similarities = [
        float(np.array(vector) @ reference.embed(text))
        for vector, text in zip(result.vectors, SENTENCES, strict=True)
    ]

    assert min(similarities) >= 0.9995


@pytest.mark.slow
async def test_single_words_stay_close_to_the_reference_model(
    engine: Engine, reference: ReferenceMiniLM
) -> None:
    words = ["food", "bread", "movie"]

    result = await engine.embed("minilm", words)

    similarities = [
        float(np.array(vector) @ reference.embed(word))
        for vector, word in zip(result.vectors, words, strict=True)
    ]
    # int8 weights cost most on the shortest inputs (measured 0.9992 to 0.9997)
    assert min(similarities) >= 0.999


async def test_truncates_inputs_longer_than_the_context(engine: Engine) -> None:
    result = await engine.embed("minilm", ["word " * 1000])

    assert result.tokens == 256
