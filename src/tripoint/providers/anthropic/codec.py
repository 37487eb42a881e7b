"""OpenAI-shaped chat requests <-> Anthropic's Messages API. Pure: no I/O, testable from fixtures.

Requests: system and developer messages become the top-level `system`; consecutive turns of
one role are merged (tool results answering one assistant turn must share one user turn);
tool calls and results become `tool_use` / `tool_result` blocks; images become `image` blocks.
Answers and stream events become chunks shaped exactly as an OpenAI backend's would be.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.shape import arr, malformed, obj, opt_int, opt_str
from tripoint.providers.sse import ServerSentEvent
from tripoint.providers.status import error_from_status
from tripoint.providers.toolspec import refuse_unsupported, tool_parameters
from tripoint.schema.chunks import EMPTY, ChatChunk, ChoiceDelta, ToolCallDelta, Usage
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, ContentPart, Message, Tool

FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Anthropic's documented error types and the HTTP status each one comes with
ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
# where extended thinking goes in an OpenAI-shaped answer (as vLLM and DeepSeek put it)
REASONING = "reasoning_content"
# Anthropic-native request fields a client may send through the OpenAI API
_PASSTHROUGH = ("top_k", "metadata", "thinking", "service_tier")


def to_wire(request: ChatRequest, model: str, *, max_tokens: int) -> JSONObject:
    """The Messages request for `request`; `max_tokens` applies when the client sets none."""
    _refuse_unsupported(request)
    system, messages = _conversation(request.messages)
    body: JSONObject = {
        "model": model,
        "max_tokens": request.max_completion_tokens or request.max_tokens or max_tokens,
        "messages": messages,
    }
    if system:
        body["system"] = system
    if request.stream:
        body["stream"] = True
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = stop_sequences(request.stop)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    extra = request.model_extra or {}
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        choice = _tool_choice(request.tool_choice, parallel=extra.get("parallel_tool_calls"))
        if choice is not None:
            body["tool_choice"] = choice
    body.update((key, extra[key]) for key in _PASSTHROUGH if key in extra)
    return body


def stop_sequences(stop: str | list[str]) -> JSON:
    return [stop] if isinstance(stop, str) else list[JSON](stop)


def _refuse_unsupported(request: ChatRequest) -> None:
    if request.n > 1:
        raise InvalidRequestError("anthropic backends answer one choice: n must be 1", param="n")
    refuse_unsupported(request, "anthropic", "logprobs", "top_logprobs")
    if request.response_format is not None and request.response_format.type != "text":
        raise InvalidRequestError(
            "anthropic backends do not support response_format; describe the format in the "
            "prompt or ask for a tool call",
            param="response_format",
        )


def _conversation(messages: list[Message]) -> tuple[str, list[JSON]]:
    system: list[str] = []
    turns: list[tuple[str, list[JSON]]] = []
    for position, message in enumerate(messages):
        if message.role in ("system", "developer"):
            system.append(message.text())
            continue
        role, blocks = _blocks(message, position)
        if not blocks:
            continue  # Anthropic rejects empty turns; an empty message says nothing
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    return "\n\n".join(s for s in system if s), [
        {"role": role, "content": _collapse(blocks)} for role, blocks in turns
    ]


def _collapse(blocks: list[JSON]) -> JSON:
    """A turn that is one text block is sent as a plain string, as Anthropic's examples do."""
    if len(blocks) == 1 and isinstance(blocks[0], dict) and blocks[0].get("type") == "text":
        return blocks[0]["text"]
    return blocks


def _blocks(message: Message, position: int) -> tuple[str, list[JSON]]:
    where = f"messages[{position}]"
    match message.role:
        case "user":
            return "user", _content_blocks(message.content, where)
        case "assistant":
            blocks = _content_blocks(message.content, where)
            blocks.extend(
                _tool_use(call.id, call.function.name, call.function.arguments, where)
                for call in message.tool_calls or ()
            )
            return "assistant", blocks
        case "tool":
            if not message.tool_call_id:
                raise InvalidRequestError("a tool message needs tool_call_id", param=where)
            result: JSONObject = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.text(),
            }
            return "user", [result]
        case _:
            raise InvalidRequestError(
                f"role {message.role!r} is not supported by anthropic backends; use 'tool'",
                param=where,
            )


def _content_blocks(content: str | list[ContentPart] | None, where: str) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [block for part in content if (block := _part(part, where)) is not None]


def _part(part: ContentPart, where: str) -> JSON:
    if part.type == "text":
        return {"type": "text", "text": part.text} if part.text else None
    if part.type == "image_url":
        image = (part.model_extra or {}).get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str):
            raise InvalidRequestError("an image_url part needs image_url.url", param=where)
        return {"type": "image", "source": _image_source(url, where)}
    raise InvalidRequestError(
        f"content part {part.type!r} is not supported by anthropic backends", param=where
    )


def _image_source(url: str, where: str) -> JSONObject:
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, _, data = url.partition(",")
    media_type, _, encoding = header.removeprefix("data:").partition(";")
    if encoding != "base64" or not data:
        raise InvalidRequestError("an image data URL must be base64-encoded", param=where)
    return {"type": "base64", "media_type": media_type, "data": data}


def _tool_use(call_id: str, name: str, arguments: str, where: str) -> JSON:
    try:
        parsed = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequestError(
            f"tool call {call_id!r} has arguments that are not a JSON object", param=where
        )
    return {"type": "tool_use", "id": call_id, "name": name, "input": parsed}


def _tool(tool: Tool) -> JSON:
    body: JSONObject = {"name": tool.function.name, "input_schema": tool_parameters(tool)}
    if tool.function.description:
        body["description"] = tool.function.description
    return body


def _tool_choice(choice: str | dict[str, object] | None, *, parallel: object) -> JSONObject | None:
    wire: JSONObject | None
    match choice:
        case None | "auto":
            wire = {"type": "auto"} if parallel is False else None
        case "none":
            wire = {"type": "none"}
        case "required":
            wire = {"type": "any"}
        case {"type": "function", "function": {"name": str(name)}}:
            wire = {"type": "tool", "name": name}
        case _:
            raise InvalidRequestError("tool_choice is not one Tripoint knows", param="tool_choice")
    if wire is not None and parallel is False and wire["type"] != "none":
        wire["disable_parallel_tool_use"] = True
    return wire


# answers ------------------------------------------------------------------------------------


def chunk_from_wire(body: JSON) -> ChatChunk:
    """A whole Messages response as one chunk."""
    message = obj(body, "message")
    if message.get("type") == "error":
        raise UpstreamError(f"upstream answered an error: {_error_text(message)}")
    if not isinstance(message.get("content"), list):
        raise malformed("the message has no content list")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCallDelta] = []
    for raw in arr(message.get("content"), "content"):
        block = obj(raw, "content block")
        kind = block.get("type")
        if kind == "text":
            texts.append(opt_str(block.get("text"), "text") or "")
        elif kind == "thinking":
            thoughts.append(opt_str(block.get("thinking"), "thinking") or "")
        elif kind == "tool_use":
            calls.append(_tool_call(block, len(calls), arguments=orjson.dumps(block.get("input"))))
    usage = message.get("usage")
    choice = ChoiceDelta(
        role="assistant",
        text="".join(texts) if texts or not calls else None,
        tool_calls=tuple(calls),
        finish_reason=finish_reason(message.get("stop_reason")),
        extra={REASONING: "".join(thoughts)} if thoughts else EMPTY,
    )
    return ChatChunk(
        choices=(choice,),
        usage=usage_from_wire(obj(usage, "usage")) if usage is not None else None,
    )


def finish_reason(stop_reason: JSON) -> str | None:
    reason = opt_str(stop_reason, "stop_reason")
    return None if reason is None else FINISH_REASONS.get(reason, "stop")


def usage_from_wire(usage: Mapping[str, JSON]) -> Usage:
    """OpenAI's prompt_tokens counts cached tokens too; Anthropic reports them apart."""
    fresh = opt_int(usage.get("input_tokens"), "usage.input_tokens") or 0
    written = opt_int(usage.get("cache_creation_input_tokens"), "usage.cache_creation") or 0
    read = opt_int(usage.get("cache_read_input_tokens"), "usage.cache_read") or 0
    completion = opt_int(usage.get("output_tokens"), "usage.output_tokens") or 0
    prompt = fresh + written + read
    extra: Mapping[str, JSON] = (
        {"prompt_tokens_details": {"cached_tokens": read}} if read else EMPTY
    )
    return Usage(prompt, completion, prompt + completion, extra=extra)


def _tool_call(block: JSONObject, index: int, *, arguments: bytes) -> ToolCallDelta:
    return ToolCallDelta(
        index=index,
        id=opt_str(block.get("id"), "tool_use.id"),
        name=opt_str(block.get("name"), "tool_use.name"),
        arguments=arguments.decode(),
        type="function",
    )


# streams ------------------------------------------------------------------------------------


class StreamDecoder:
    """Stream events to chunks. Anthropic spreads what one OpenAI chunk says over several
    events (input usage in `message_start`, output usage in `message_delta`, a tool call's
    identity in `content_block_start`), so this remembers it across events."""

    def __init__(self, backend: str) -> None:
        self.finished = False
        self._backend = backend
        self._usage: dict[str, JSON] = {}
        self._tool_index: dict[int, int] = {}  # content block index -> OpenAI tool call index

    def feed(self, event: ServerSentEvent) -> list[ChatChunk]:
        try:
            payload = obj(orjson.loads(event.data), "event")
        except orjson.JSONDecodeError:
            raise malformed("an event is not JSON") from None
        kind = payload.get("type", event.event)
        match kind:
            case "message_start":
                self._count(obj(payload.get("message"), "message").get("usage"))
                return [_delta(ChoiceDelta(role="assistant", text=""))]
            case "content_block_start":
                return self._block_start(payload)
            case "content_block_delta":
                return self._block_delta(payload)
            case "message_delta":
                self._count(payload.get("usage"))
                delta = obj(payload.get("delta") or {}, "delta")
                return [_delta(ChoiceDelta(finish_reason=finish_reason(delta.get("stop_reason"))))]
            case "message_stop":
                self.finished = True
                return [ChatChunk(usage=usage_from_wire(self._usage))]
            case "error":
                raise error_from_event(self._backend, payload)
            case _:
                return []  # ping, content_block_stop, and event types added later

    def _count(self, usage: JSON) -> None:
        # message_delta's counts are cumulative: the latest value of each field wins
        if usage is not None:
            self._usage.update((k, v) for k, v in obj(usage, "usage").items() if v is not None)

    def _block_start(self, payload: JSONObject) -> list[ChatChunk]:
        index = opt_int(payload.get("index"), "index") or 0
        block = obj(payload.get("content_block"), "content_block")
        if block.get("type") == "tool_use":
            position = self._tool_index.setdefault(index, len(self._tool_index))
            call = _tool_call(block, position, arguments=b"")
            return [_delta(ChoiceDelta(tool_calls=(call,)))]
        if block.get("type") == "text" and (text := opt_str(block.get("text"), "text")):
            return [_delta(ChoiceDelta(text=text))]
        return []

    def _block_delta(self, payload: JSONObject) -> list[ChatChunk]:
        delta = obj(payload.get("delta"), "delta")
        match delta.get("type"):
            case "text_delta":
                return [_delta(ChoiceDelta(text=opt_str(delta.get("text"), "text") or ""))]
            case "input_json_delta":
                index = opt_int(payload.get("index"), "index") or 0
                if index not in self._tool_index:
                    raise malformed("input_json_delta for a block that is not a tool_use")
                piece = opt_str(delta.get("partial_json"), "partial_json") or ""
                call = ToolCallDelta(index=self._tool_index[index], arguments=piece)
                return [_delta(ChoiceDelta(tool_calls=(call,)))] if piece else []
            case "thinking_delta":
                thought = opt_str(delta.get("thinking"), "thinking") or ""
                return [_delta(ChoiceDelta(extra={REASONING: thought}))] if thought else []
            case _:
                return []  # signature and citation deltas have no OpenAI field


def _delta(choice: ChoiceDelta) -> ChatChunk:
    return ChatChunk(choices=(choice,))


# errors -------------------------------------------------------------------------------------


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = _error_text(payload) if isinstance(payload, dict) else None
    return error_from_status(backend, status, message, headers)


def error_from_event(backend: str, payload: JSONObject) -> UpstreamError:
    """An `error` event mid-stream carries the type its HTTP status would have had."""
    error = payload.get("error")
    kind = error.get("type") if isinstance(error, dict) else None
    status = ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500
    text = _error_text(payload)
    failure = error_from_status(backend, status, text, {})
    if text not in failure.message:
        failure.message = f"{failure.message} mid-stream: {text}"
    return failure


def _error_text(payload: JSONObject) -> str:
    error = payload.get("error")
    if isinstance(error, dict):
        kind, message = error.get("type"), error.get("message")
        if isinstance(message, str):
            return f"{kind}: {message}" if isinstance(kind, str) else message
    return "unknown error"
