"""OpenAI embedding requests <-> Bedrock InvokeModel bodies for Titan and Cohere embed. Pure.

Titan embeds one text per call; Cohere embed takes up to 96 texts per call and reports its
token count only in the `X-Amzn-Bedrock-Input-Token-Count` response header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tripoint.errors import InvalidRequestError
from tripoint.providers.shape import arr, malformed, obj, opt_int
from tripoint.providers.vectors import texts_of
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import EmbeddingRequest

Family = Literal["titan", "cohere"]
COHERE_BATCH = 96
TOKEN_HEADER = "X-Amzn-Bedrock-Input-Token-Count"  # noqa: S105 (a header name)


@dataclass(frozen=True, slots=True)
class Batch:
    """One InvokeModel body and how many of the request's texts it embeds."""

    body: JSONObject
    size: int


def family_of(model: str) -> Family:
    """The model id, possibly behind a cross-region prefix (`us.cohere.embed-...`)."""
    if "amazon.titan-embed" in model:
        return "titan"
    if "cohere.embed" in model:
        return "cohere"
    raise InvalidRequestError(
        f"bedrock embeddings support Titan and Cohere embed models, not {model!r}", param="model"
    )


def batches(request: EmbeddingRequest, family: Family) -> list[Batch]:
    texts = texts_of(request)
    if family == "titan":
        extra: JSONObject = {"dimensions": request.dimensions} if request.dimensions else {}
        return [Batch({"inputText": text, **extra}, 1) for text in texts]
    input_type = (request.model_extra or {}).get("input_type", "search_document")
    return [
        Batch({"texts": list[JSON](texts[at : at + COHERE_BATCH]), "input_type": input_type}, 0)
        for at in range(0, len(texts), COHERE_BATCH)
    ]


def vectors_from_wire(
    body: JSON, family: Family, headers: Mapping[str, str]
) -> tuple[list[list[float]], int]:
    """The vectors of one InvokeModel answer and the input tokens it reports."""
    response = obj(body, "embedding response")
    if family == "titan":
        tokens = opt_int(response.get("inputTextTokenCount"), "inputTextTokenCount") or 0
        return [_vector(response.get("embedding"))], tokens
    embeddings = response.get("embeddings")
    if isinstance(embeddings, dict):  # asked with embedding_types: {"float": [...]}
        embeddings = embeddings.get("float")
    rows = [_vector(row) for row in arr(embeddings, "embeddings")]
    try:
        tokens = int(headers.get(TOKEN_HEADER, "0"))
    except ValueError:
        tokens = 0
    return rows, tokens


def _vector(value: JSON) -> list[float]:
    if not isinstance(value, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        raise malformed("an embedding is not a list of numbers")
    return [float(x) for x in value]  # type: ignore[arg-type]
