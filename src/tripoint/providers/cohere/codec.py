"""OpenAI-shaped requests <-> Cohere's v2 chat and embed APIs. Pure: no I/O, testable from fixtures.

Cohere v2 messages are close to OpenAI's (system/user/assistant/tool roles, function tools,
JSON-string arguments). The differences handled here: sampling names (`p`, `k`,
`stop_sequences`), `tool_plan` (the assistant's text before its tool calls, surfaced as
content), finish reasons, usage in `billed_units`, and typed stream events.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping

import orjson

from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.shape import arr, malformed, obj, opt_int, opt_str
from tripoint.providers.sse import ServerSentEvent
from tripoint.providers.status import error_from_status
from tripoint.providers.toolspec import refuse_unsupported
from tripoint.schema.chunks import (
    EMPTY,
    ChatChunk,
    ChoiceDelta,
    EmbeddingResult,
    ToolCallDelta,
    Usage,
)
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, ContentPart, EmbeddingRequest, Message

FINISH_REASONS: Mapping[str, str] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "USER_CANCEL": "stop",
    "MAX_TOKENS": "length",
    "ERROR_LIMIT": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter",
}
REASONING = "reasoning_content"  # where a reasoning model's thinking goes, as vLLM puts it
_FAILED = frozenset({"ERROR", "TIMEOUT"})  # the answer is broken, not finished
_PASSTHROUGH = ("k", "frequency_penalty", "presence_penalty", "safety_mode", "strict_tools")
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def to_wire(request: ChatRequest, model: str) -> JSONObject:
    if request.n > 1:
        raise InvalidRequestError("cohere backends answer one choice: n must be 1", param="n")
    refuse_unsupported(request, "cohere", "logprobs", "top_logprobs")
    body: JSONObject = {
        "model": model,
        "messages": [_message(m, i) for i, m in enumerate(request.messages)],
        "stream": request.stream,
    }
    if (limit := request.max_completion_tokens or request.max_tokens) is not None:
        body["max_tokens"] = limit
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = (
            [request.stop] if isinstance(request.stop, str) else [*request.stop]
        )
    if request.seed is not None:
        body["seed"] = request.seed
    if request.tools:
        body["tools"] = [tool.model_dump(mode="json", exclude_none=True) for tool in request.tools]
        if (choice := _tool_choice(request.tool_choice)) is not None:
            body["tool_choice"] = choice
    if request.response_format is not None and request.response_format.type != "text":
        body["response_format"] = _response_format(request.response_format.model_extra or {})
    extra = request.model_extra or {}
    body.update((key, extra[key]) for key in _PASSTHROUGH if key in extra)
    return body


def _message(message: Message, position: int) -> JSONObject:
    where = f"messages[{position}]"
    if message.role == "tool":
        if not message.tool_call_id:
            raise InvalidRequestError("a tool message needs tool_call_id", param=where)
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text()}
    role = _ROLES.get(message.role)
    if role is None:
        raise InvalidRequestError(
            f"role {message.role!r} is not supported by cohere backends; use 'tool'", param=where
        )
    if role == "system":
        return {"role": "system", "content": message.text()}
    wire: JSONObject = {"role": role}
    if role == "assistant" and message.tool_calls:
        wire["tool_calls"] = [call.model_dump(mode="json") for call in message.tool_calls]
        if text := message.text():
            wire["tool_plan"] = text
        return wire
    wire["content"] = _content(message.content, where)
    return wire


def _content(content: str | list[ContentPart] | None, where: str) -> JSON:
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[JSON] = []
    for part in content:
        if part.type == "text":
            parts.append({"type": "text", "text": part.text or ""})
        elif part.type == "image_url":
            parts.append(
                {"type": "image_url", "image_url": (part.model_extra or {}).get("image_url")}
            )
        else:
            raise InvalidRequestError(
                f"content part {part.type!r} is not supported by cohere backends", param=where
            )
    return parts


def _tool_choice(choice: str | dict[str, object] | None) -> str | None:
    match choice:
        case None | "auto":
            return None
        case "required":
            return "REQUIRED"
        case "none":
            return "NONE"
        case _:
            raise InvalidRequestError(
                "cohere backends cannot force one named tool; use 'required'", param="tool_choice"
            )


def _response_format(extra: Mapping[str, object]) -> JSONObject:
    wire: JSONObject = {"type": "json_object"}
    spec = extra.get("json_schema")
    if isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
        wire["json_schema"] = spec["schema"]
    return wire


# answers ------------------------------------------------------------------------------------


def chunk_from_wire(body: JSON) -> ChatChunk:
    response = obj(body, "response")
    message = obj(response.get("message"), "message")
    blocks = [obj(block, "content block") for block in arr(message.get("content"), "content")]
    texts = [opt_str(b.get("text"), "text") or "" for b in blocks if b.get("type") == "text"]
    thoughts = [opt_str(b.get("thinking"), "thinking") or "" for b in blocks if "thinking" in b]
    calls = tuple(
        _tool_call(obj(call, "tool_call"), i)
        for i, call in enumerate(arr(message.get("tool_calls"), "tool_calls"))
    )
    plan = opt_str(message.get("tool_plan"), "tool_plan")
    text = "".join(texts) if texts else plan
    usage = response.get("usage")
    choice = ChoiceDelta(
        role="assistant",
        text=text if text or not calls else None,
        tool_calls=calls,
        finish_reason=finish_reason(response.get("finish_reason")),
        extra={REASONING: "".join(thoughts)} if thoughts else EMPTY,
    )
    return ChatChunk(
        choices=(choice,),
        usage=usage_from_wire(obj(usage, "usage")) if usage is not None else None,
    )


def finish_reason(value: JSON) -> str | None:
    reason = opt_str(value, "finish_reason")
    if reason in _FAILED:
        raise UpstreamError(f"upstream gave up on the answer (finish_reason {reason})")
    return None if reason is None else FINISH_REASONS.get(reason, "stop")


def usage_from_wire(usage: JSONObject) -> Usage:
    """Billed units are what limits and cost must see; raw token counts are the fallback."""
    counts = usage.get("billed_units") or usage.get("tokens") or {}
    units = obj(counts, "usage.billed_units")
    prompt = int(_number(units.get("input_tokens"), "usage.input_tokens"))
    completion = int(_number(units.get("output_tokens"), "usage.output_tokens"))
    return Usage(prompt, completion, prompt + completion)


def _number(value: JSON, what: str) -> float:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise malformed(f"{what} is not a number")
    return value


def _tool_call(call: JSONObject, index: int) -> ToolCallDelta:
    function = obj(call.get("function") or {}, "function")
    return ToolCallDelta(
        index=index,
        id=opt_str(call.get("id"), "tool_call.id"),
        name=opt_str(function.get("name"), "function.name"),
        arguments=opt_str(function.get("arguments"), "function.arguments") or "",
        type="function",
    )


# streams ------------------------------------------------------------------------------------


class StreamDecoder:
    """v2 stream events (`message-start` ... `message-end`) to chunks."""

    def __init__(self) -> None:
        self.finished = False
        self._tool_index: dict[int, int] = {}  # Cohere's event index -> OpenAI tool call index

    def feed(self, event: ServerSentEvent) -> list[ChatChunk]:
        try:
            payload = obj(orjson.loads(event.data), "event")
        except orjson.JSONDecodeError:
            raise malformed("an event is not JSON") from None
        delta = obj(payload.get("delta") or {}, "delta")
        message = obj(delta.get("message") or {}, "delta.message")
        match payload.get("type", event.event):
            case "message-start":
                return [_delta(ChoiceDelta(role="assistant", text=""))]
            case "content-start" | "content-delta":
                return _content_piece(obj(message.get("content") or {}, "content"))
            case "tool-plan-delta":
                plan = opt_str(message.get("tool_plan"), "tool_plan")
                return [_delta(ChoiceDelta(text=plan))] if plan else []
            case "tool-call-start" | "tool-call-delta" as kind:
                return self._tool(payload, message, start=kind == "tool-call-start")
            case "message-end":
                self.finished = True
                usage = delta.get("usage")
                return [
                    _delta(ChoiceDelta(finish_reason=finish_reason(delta.get("finish_reason")))),
                    ChatChunk(usage=usage_from_wire(obj(usage, "usage")) if usage else None),
                ]
            case _:
                return []  # content-end, tool-call-end, citations, debug, later event types

    def _tool(self, payload: JSONObject, message: JSONObject, *, start: bool) -> list[ChatChunk]:
        index = opt_int(payload.get("index"), "index") or 0
        call = obj(message.get("tool_calls") or {}, "tool_calls")
        if start:
            position = self._tool_index.setdefault(index, len(self._tool_index))
            delta = _tool_call(call, position)
        elif index in self._tool_index:
            arguments = obj(call.get("function") or {}, "function").get("arguments")
            delta = ToolCallDelta(
                index=self._tool_index[index],
                arguments=opt_str(arguments, "function.arguments") or "",
            )
            if not delta.arguments:
                return []
        else:
            raise malformed("tool-call-delta before its tool-call-start")
        return [_delta(ChoiceDelta(tool_calls=(delta,)))]


def _content_piece(content: JSONObject) -> list[ChatChunk]:
    """A text piece, or a reasoning model's thinking piece."""
    if thought := opt_str(content.get("thinking"), "content.thinking"):
        return [_delta(ChoiceDelta(extra={REASONING: thought}))]
    text = opt_str(content.get("text"), "content.text")
    return [_delta(ChoiceDelta(text=text))] if text else []


def _delta(choice: ChoiceDelta) -> ChatChunk:
    return ChatChunk(choices=(choice,))


# embeddings ---------------------------------------------------------------------------------


def embed_to_wire(request: EmbeddingRequest, model: str, *, input_type: str) -> JSONObject:
    given = [request.input] if isinstance(request.input, str) else request.input
    texts: list[JSON] = [text for text in given if isinstance(text, str)]
    if len(texts) != len(given):
        raise InvalidRequestError("cohere backends embed text, not token ids", param="input")
    extra = request.model_extra or {}
    body: JSONObject = {
        "model": model,
        "texts": texts,
        "input_type": extra.get("input_type", input_type),
        "embedding_types": ["float"],
    }
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    if "truncate" in extra:
        body["truncate"] = extra["truncate"]
    return body


def embedding_from_wire(body: JSON, *, encoding: str | None) -> EmbeddingResult:
    response = obj(body, "embed response")
    by_type = obj(response.get("embeddings"), "embeddings")
    vectors: list[list[float] | str] = []
    for row in arr(by_type.get("float"), "embeddings.float"):
        values = [_number(x, "embedding value") for x in arr(row, "embedding")]
        # OpenAI's base64 is the little-endian float32 array; Cohere only sends floats for it
        vectors.append(_base64(values) if encoding == "base64" else values)
    meta = obj(response.get("meta") or {}, "meta")
    billed = obj(meta.get("billed_units") or {}, "meta.billed_units")
    tokens = int(_number(billed.get("input_tokens"), "billed_units.input_tokens"))
    return EmbeddingResult(vectors=tuple(vectors), usage=Usage(tokens, 0, tokens))


def _base64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


# errors -------------------------------------------------------------------------------------


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = payload.get("message") if isinstance(payload, dict) else None
    # Cohere answers 498 for an invalid API key
    status = 401 if status == 498 else status
    return error_from_status(
        backend, status, message if isinstance(message, str) else None, headers
    )
