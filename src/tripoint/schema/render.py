"""Render chunks as OpenAI wire objects: stream chunks, or whole responses gathered from them.

The same gathering serves a non-streaming client at the edge and batch output lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from tripoint.schema.chunks import ChatChunk, ChoiceDelta, EmbeddingResult, ToolCallDelta, Usage
from tripoint.schema.json import JSON, JSONObject


@dataclass(frozen=True, slots=True)
class Identity:
    """What every rendered object of one call shares."""

    id: str
    model: str
    created: int = field(default_factory=lambda: int(time.time()))


def usage_json(usage: Usage) -> JSONObject:
    body: JSONObject = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    body.update(usage.extra)
    return body


def chat_chunk_json(chunk: ChatChunk, ident: Identity, *, with_usage: bool) -> JSONObject:
    body: JSONObject = {
        "id": chunk.id or ident.id,
        "object": "chat.completion.chunk",
        "created": chunk.created or ident.created,
        "model": ident.model,
        "choices": [_delta_choice(c) for c in chunk.choices],
    }
    body.update(chunk.extra)
    if with_usage:
        body["usage"] = usage_json(chunk.usage) if chunk.usage else None
    return body


def completion_chunk_json(chunk: ChatChunk, ident: Identity, *, with_usage: bool) -> JSONObject:
    body: JSONObject = {
        "id": chunk.id or ident.id,
        "object": "text_completion",
        "created": chunk.created or ident.created,
        "model": ident.model,
        "choices": [
            _text_choice(c.index, c.text or "", c.finish_reason, c.logprobs) for c in chunk.choices
        ],
    }
    body.update(chunk.extra)
    if with_usage:
        body["usage"] = usage_json(chunk.usage) if chunk.usage else None
    return body


def _delta_choice(choice: ChoiceDelta) -> JSONObject:
    delta: JSONObject = {}
    if choice.role is not None:
        delta["role"] = choice.role
    if choice.text is not None:
        delta["content"] = choice.text
    elif choice.role is not None and not choice.tool_calls:
        delta["content"] = ""  # OpenAI opens with role and empty content; some servers omit it
    if choice.tool_calls:
        delta["tool_calls"] = [_tool_call_delta(t) for t in choice.tool_calls]
    delta.update(choice.extra)
    return {
        "index": choice.index,
        "delta": delta,
        "logprobs": choice.logprobs,
        "finish_reason": choice.finish_reason,
    }


def _tool_call_delta(call: ToolCallDelta) -> JSONObject:
    body: JSONObject = {"index": call.index}
    if call.id is not None:
        body["id"] = call.id
    if call.type is not None or call.id is not None:
        body["type"] = call.type or "function"
    function: JSONObject = {"arguments": call.arguments}
    if call.name is not None:
        function["name"] = call.name
    body["function"] = function
    return body


def _text_choice(index: int, text: str, finish: str | None, logprobs: JSON) -> JSONObject:
    return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}


@dataclass(slots=True)
class _Accumulated:
    role: str | None = None
    text: list[str] = field(default_factory=list)
    saw_text: bool = False
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: JSON = None
    extra: dict[str, JSON] = field(default_factory=dict)

    def add(self, delta: ChoiceDelta) -> None:
        self.role = delta.role or self.role
        if delta.text is not None:
            self.text.append(delta.text)
            self.saw_text = True
        for call in delta.tool_calls:
            slot = self.tool_calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] = call.id or slot["id"]
            slot["name"] += call.name or ""
            slot["arguments"] += call.arguments
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.logprobs = _merge_logprobs(self.logprobs, delta.logprobs)
        for key, value in delta.extra.items():
            previous = self.extra.get(key)
            both_text = isinstance(previous, str) and isinstance(value, str)
            self.extra[key] = previous + value if both_text else value  # type: ignore[operator]


def _merge_logprobs(held: JSON, new: JSON) -> JSON:
    """Stream deltas carry `{"content": [...]}` pieces; a whole answer carries all of them."""
    if held is None:
        return new
    if isinstance(held, dict) and isinstance(new, dict):
        merged = dict(held)
        for key, value in new.items():
            previous = merged.get(key)
            if isinstance(previous, list) and isinstance(value, list):
                merged[key] = previous + value
            elif value is not None:
                merged[key] = value
        return merged
    return new if new is not None else held


def gather(chunks: Iterable[ChatChunk]) -> tuple[dict[int, _Accumulated], ChatChunk | None]:
    """Fold a stream into one accumulated state per choice, plus the last chunk (for meta)."""
    choices: dict[int, _Accumulated] = {}
    usage: Usage | None = None
    last: ChatChunk | None = None
    for chunk in chunks:
        for delta in chunk.choices:
            choices.setdefault(delta.index, _Accumulated()).add(delta)
        usage = chunk.usage or usage
        last = (
            chunk
            if last is None
            else ChatChunk(
                id=last.id or chunk.id,
                created=last.created or chunk.created,
                extra={**last.extra, **chunk.extra},
            )
        )
    if last is not None:
        last = ChatChunk(id=last.id, created=last.created, extra=last.extra, usage=usage)
    return choices, last


def chat_response_json(chunks: Iterable[ChatChunk], ident: Identity) -> JSONObject:
    choices, meta = gather(chunks)
    body: JSONObject = {
        "id": (meta and meta.id) or ident.id,
        "object": "chat.completion",
        "created": (meta and meta.created) or ident.created,
        "model": ident.model,
        "choices": [_message_choice(i, acc) for i, acc in sorted(choices.items())],
        "usage": usage_json(meta.usage) if meta and meta.usage else None,
    }
    if meta:
        body.update(meta.extra)
    return body


def completion_response_json(chunks: Iterable[ChatChunk], ident: Identity) -> JSONObject:
    choices, meta = gather(chunks)
    body: JSONObject = {
        "id": (meta and meta.id) or ident.id,
        "object": "text_completion",
        "created": (meta and meta.created) or ident.created,
        "model": ident.model,
        "choices": [
            _text_choice(i, "".join(acc.text), acc.finish_reason, acc.logprobs)
            for i, acc in sorted(choices.items())
        ],
        "usage": usage_json(meta.usage) if meta and meta.usage else None,
    }
    if meta:
        body.update(meta.extra)
    return body


def _message_choice(index: int, acc: _Accumulated) -> JSONObject:
    message: JSONObject = {
        "role": acc.role or "assistant",
        "content": "".join(acc.text) if acc.saw_text else None,
    }
    if acc.tool_calls:
        message["tool_calls"] = [
            {
                "id": slot["id"],
                "type": "function",
                "function": {"name": slot["name"], "arguments": slot["arguments"]},
            }
            for _, slot in sorted(acc.tool_calls.items())
        ]
    message.update(acc.extra)
    return {
        "index": index,
        "message": message,
        "logprobs": acc.logprobs,
        "finish_reason": acc.finish_reason,
    }


def embedding_response_json(result: EmbeddingResult, ident: Identity) -> JSONObject:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _vector(vector)}
            for i, vector in enumerate(result.vectors)
        ],
        "model": ident.model,
        "usage": (
            {"prompt_tokens": result.usage.prompt_tokens, "total_tokens": result.usage.total_tokens}
            if result.usage
            else {"prompt_tokens": 0, "total_tokens": 0}
        ),
    }


def _vector(vector: list[float] | str) -> JSON:
    return vector if isinstance(vector, str) else list[JSON](vector)
