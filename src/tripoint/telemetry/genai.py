"""The GenAI semantic conventions' attributes of a call: request, outcome, content."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from opentelemetry.util.types import AttributeValue

from tripoint.pipeline.call import Call, Operation, Record
from tripoint.schema.chunks import ChatChunk, Usage
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest

OPERATION_NAMES = {
    Operation.CHAT: "chat",
    Operation.COMPLETIONS: "text_completion",
    Operation.EMBEDDINGS: "embeddings",
}
# Backend `type` -> gen_ai.provider.name (the conventions' well-known values).
PROVIDER_NAMES = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
}
REQUEST_ATTRIBUTES = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("seed", "gen_ai.request.seed"),
    ("n", "gen_ai.request.choice.count"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
)


def output_text(chunks: list[ChatChunk]) -> str:
    """The completion as the conventions' output messages (only when content is opted in)."""
    texts: dict[int, list[str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.text:
                texts.setdefault(choice.index, []).append(choice.text)
    messages = [
        {"role": "assistant", "parts": [{"type": "text", "content": "".join(parts)}]}
        for _, parts in sorted(texts.items())
    ]
    return orjson.dumps(messages).decode()


def record_attributes(record: Record) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "http.response.status_code": record.status,
        "tripoint.attempts": len(record.upstream),
        "tripoint.principal": record.principal_id,
    }
    if record.target is not None:
        backend = record.target.backend
        attributes["gen_ai.provider.name"] = PROVIDER_NAMES.get(backend.type, backend.type)
        attributes["gen_ai.response.model"] = record.target.model
        attributes["tripoint.backend"] = backend.name
        attributes["tripoint.pattern"] = backend.pattern
    if record.usage is not None:
        attributes.update(usage_attributes(record.usage))
    if record.finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = record.finish_reasons
    if record.error_type is not None:
        attributes["error.type"] = record.error_type
    if record.cost is not None:
        attributes["tripoint.cost_usd"] = float(record.cost)
    if record.first_chunk_at is not None and record.stream:
        attributes["gen_ai.response.time_to_first_chunk"] = record.first_chunk_at - record.started
    return attributes


def usage_attributes(usage: Usage) -> dict[str, AttributeValue]:
    return {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
    }


def request_attributes(call: Call) -> Mapping[str, AttributeValue]:
    request = call.request
    attributes: dict[str, AttributeValue] = {}
    if isinstance(request, ChatRequest | CompletionRequest):
        attributes["gen_ai.request.stream"] = bool(request.stream)
    declared, extra = request.__dict__, request.model_extra or {}  # no getattr fallbacks
    for field, key in REQUEST_ATTRIBUTES:
        value = declared.get(field, extra.get(field))
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[key] = value
    return attributes


def input_content(call: Call) -> str:
    request = call.request
    if isinstance(request, ChatRequest):
        return orjson.dumps([m.model_dump(mode="json") for m in request.messages]).decode()
    if isinstance(request, CompletionRequest):
        return orjson.dumps(request.prompt).decode()
    if isinstance(request, EmbeddingRequest):
        return orjson.dumps(request.input).decode()
    return ""  # prediction tensors are data, not content
