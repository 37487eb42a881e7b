"""OpenAI wire format <-> Tripoint requests and chunks. Pure: no I/O, testable from fixtures."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from tripoint.errors import UpstreamError
from tripoint.providers.shape import arr, malformed, obj, opt_int, opt_str
from tripoint.providers.sse import ServerSentEvent
from tripoint.providers.status import error_from_status
from tripoint.schema.chunks import (
    EMPTY,
    ChatChunk,
    ChoiceDelta,
    EmbeddingResult,
    ToolCallDelta,
    Usage,
)
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest

_CHUNK_KEYS = frozenset({"id", "object", "created", "model", "choices", "usage"})
_CHOICE_KEYS = frozenset({"index", "delta", "message", "text", "finish_reason", "logprobs"})
_DELTA_KEYS = frozenset({"role", "content", "tool_calls"})
_USAGE_KEYS = frozenset({"prompt_tokens", "completion_tokens", "total_tokens"})
DONE = "[DONE]"


def to_wire(request: ChatRequest | CompletionRequest | EmbeddingRequest, model: str) -> JSONObject:
    """The client's body as sent (unknown fields included), for the backend's model name.

    Streams always ask for usage, so limits and cost see real token counts; the edge drops
    the usage chunk again when the client did not ask for it.
    """
    body: JSONObject = request.model_dump(mode="json", exclude_unset=True)
    body["model"] = model
    if body.get("stream"):
        options = body.get("stream_options")
        body["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return body


def chunk_from_event(event: ServerSentEvent) -> ChatChunk | None:
    """One SSE event to a chunk; `[DONE]` is handled by the caller, errors raise."""
    try:
        payload = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        raise malformed("an event is not JSON") from None
    body = obj(payload, "event")
    if "error" in body:
        raise UpstreamError(f"upstream stream failed: {_message(body)}", retryable=False)
    return chunk_from_wire(body)


def chunk_from_wire(body: JSONObject) -> ChatChunk:
    """A `chat.completion.chunk`, `chat.completion`, or (text) `completion` object."""
    choices = tuple([_choice(obj(c, "choice")) for c in arr(body.get("choices"), "choices")])
    usage = body.get("usage")
    return ChatChunk(
        choices=choices,
        usage=usage_from_wire(obj(usage, "usage")) if usage is not None else None,
        id=opt_str(body.get("id"), "id"),
        created=opt_int(body.get("created"), "created"),
        extra=_rest(body, _CHUNK_KEYS),
    )


def usage_from_wire(usage: JSONObject) -> Usage:
    prompt = opt_int(usage.get("prompt_tokens"), "usage.prompt_tokens") or 0
    completion = opt_int(usage.get("completion_tokens"), "usage.completion_tokens") or 0
    total = opt_int(usage.get("total_tokens"), "usage.total_tokens")
    return Usage(
        prompt,
        completion,
        prompt + completion if total is None else total,
        extra=_rest(usage, _USAGE_KEYS),
    )


def embedding_from_wire(body: JSON) -> EmbeddingResult:
    response = obj(body, "embedding response")
    rows = sorted(
        (obj(row, "embedding") for row in arr(response.get("data"), "data")),
        key=lambda row: opt_int(row.get("index"), "index") or 0,
    )
    vectors: list[list[float] | str] = []
    for row in rows:
        vector = row.get("embedding")
        if isinstance(vector, str):
            vectors.append(vector)
        elif isinstance(vector, list) and all(isinstance(x, int | float) for x in vector):
            vectors.append([float(x) for x in vector])  # type: ignore[arg-type]
        else:
            raise malformed("embedding is neither a list of numbers nor base64")
    usage = response.get("usage")
    return EmbeddingResult(
        vectors=tuple(vectors),
        usage=usage_from_wire(obj(usage, "usage")) if usage is not None else None,
    )


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = _message(payload) if isinstance(payload, dict) else None
    return error_from_status(backend, status, message, headers)


def _message(body: JSONObject) -> str:
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    message = body.get("message")
    return message if isinstance(message, str) else "unknown error"


def _choice(choice: JSONObject) -> ChoiceDelta:
    # runs once per streamed event: plain branches, and no generator for absent tool calls
    delta = choice["delta"] if "delta" in choice else choice.get("message")
    if delta is None:  # a text completion's choice
        fields: JSONObject = {}
        text = choice.get("text")
    else:
        fields = obj(delta, "delta")
        text = fields.get("content")
    calls = fields.get("tool_calls")
    return ChoiceDelta(
        index=opt_int(choice.get("index"), "index") or 0,
        role=opt_str(fields.get("role"), "role"),
        text=opt_str(text, "content"),
        tool_calls=() if calls is None else _tool_calls(calls),
        finish_reason=opt_str(choice.get("finish_reason"), "finish_reason"),
        logprobs=choice.get("logprobs"),
        extra=_rest(fields, _DELTA_KEYS),
    )


def _tool_calls(calls: JSON) -> tuple[ToolCallDelta, ...]:
    return tuple(
        [_tool_call(obj(t, "tool_call"), i) for i, t in enumerate(arr(calls, "tool_calls"))]
    )


def _tool_call(call: JSONObject, position: int) -> ToolCallDelta:
    function = obj(call.get("function") or {}, "function")
    index = opt_int(call.get("index"), "tool_call.index")
    return ToolCallDelta(
        index=position if index is None else index,
        id=opt_str(call.get("id"), "tool_call.id"),
        name=opt_str(function.get("name"), "function.name"),
        arguments=opt_str(function.get("arguments"), "function.arguments") or "",
        type=opt_str(call.get("type"), "tool_call.type"),
    )


def _rest(body: JSONObject, known: frozenset[str]) -> Mapping[str, JSON]:
    if known.issuperset(body):
        return EMPTY
    return {k: v for k, v in body.items() if k not in known}
