"""The shape of an OpenAI answer as the official SDK parses it: keys and value types, which
must be the same whichever backend, provider type or inference pattern served the model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Optional fields OpenAI documents that only some backends fill in; not part of the shape
OPTIONAL = frozenset(
    {
        "system_fingerprint",
        "service_tier",
        "annotations",
        "prompt_tokens_details",
        "completion_tokens_details",
        "prompt_filter_results",
    }
)


def shape(value: Any) -> Any:
    """Keys and value types, recursively, without None values and optional fields."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items()) if k not in OPTIONAL}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def chunk_kind(chunk: Any) -> tuple[tuple[str, ...], bool, bool]:
    """What a stream chunk carries: its delta's fields, a finish reason, usage."""
    body = chunk.model_dump(exclude_none=True)
    choice = body["choices"][0] if body["choices"] else {}
    delta = tuple(sorted(k for k in choice.get("delta", {}) if k not in OPTIONAL))
    return delta, "finish_reason" in choice, "usage" in body
