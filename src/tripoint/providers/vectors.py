"""Embedding inputs and outputs in OpenAI's terms, for codecs of non-OpenAI backends."""

from __future__ import annotations

import base64
import struct

from tripoint.errors import InvalidRequestError
from tripoint.schema.requests import EmbeddingRequest


def texts_of(request: EmbeddingRequest) -> list[str]:
    """The texts to embed; token-id inputs only make sense to OpenAI-compatible servers."""
    if isinstance(request.input, str):
        return [request.input]
    if all(isinstance(item, str) for item in request.input):
        return [str(item) for item in request.input]
    raise InvalidRequestError("this backend embeds text, not token ids", param="input")


def encode(vector: list[float], encoding: str | None) -> list[float] | str:
    """OpenAI's base64 encoding: little-endian float32, as the SDKs decode it."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector
