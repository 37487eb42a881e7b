"""OpenAI chat requests <-> Bedrock Converse requests and responses. Pure: no I/O.

Converse speaks content blocks: text, toolUse (the model asks for a tool, `input` is a JSON
document) and toolResult (the caller's answer, sent in a user turn). Turns must alternate
user/assistant, so consecutive turns of one role (several tool results) are merged.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from tripoint.errors import (
    InvalidRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
)
from tripoint.providers.shape import arr, malformed, obj, opt_int, opt_str
from tripoint.providers.status import error_from_status
from tripoint.providers.toolspec import (
    merge_turn,
    refuse_unsupported,
    sampling,
    text_only,
    tool_input,
    tool_parameters,
)
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, ToolCallDelta, Usage
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, Message, Tool

# Converse stopReason -> OpenAI finish_reason
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def to_wire(request: ChatRequest, guardrail: JSONObject | None = None) -> JSONObject:
    """The Converse body for `request` (the model id travels in the URL)."""
    if request.n != 1:
        raise InvalidRequestError("bedrock backends answer one choice: n must be 1", param="n")
    refuse_unsupported(request, "bedrock", "logprobs", "top_logprobs", "response_format")
    system: list[JSON] = []
    turns: list[JSONObject] = []
    for position, message in enumerate(request.messages):
        if message.role in ("system", "developer"):
            system.append({"text": text_only(message, position)})
            continue
        merge_turn(turns, _turn(message, position), blocks="content")
    body: JSONObject = {"messages": list[JSON](turns)}
    if system:
        body["system"] = system
    if config := _inference_config(request):
        body["inferenceConfig"] = config
    if request.tools and request.tool_choice != "none":
        body["toolConfig"] = _tool_config(request.tools, request.tool_choice)
    if guardrail:
        body["guardrailConfig"] = guardrail_config(guardrail, stream=request.stream)
    return body


def guardrail_config(guardrail: JSONObject, *, stream: bool) -> JSONObject:
    """`streamProcessingMode` exists only on ConverseStream; Converse rejects it."""
    return {k: v for k, v in guardrail.items() if stream or k != "streamProcessingMode"}


def _turn(message: Message, position: int) -> JSONObject:
    if message.role == "user":
        return {"role": "user", "content": [{"text": text_only(message, position)}]}
    if message.role == "tool":
        if not message.tool_call_id:
            raise InvalidRequestError(
                "a tool message needs tool_call_id", param=f"messages.{position}.tool_call_id"
            )
        result: JSONObject = {
            "toolUseId": message.tool_call_id,
            "content": [{"text": text_only(message, position)}],
        }
        return {"role": "user", "content": [{"toolResult": result}]}
    if message.role == "assistant":
        blocks: list[JSON] = []
        if text := text_only(message, position):
            blocks.append({"text": text})
        blocks.extend(
            {
                "toolUse": {
                    "toolUseId": call.id,
                    "name": call.function.name,
                    "input": tool_input(call.function.arguments, position),
                }
            }
            for call in message.tool_calls or ()
        )
        return {"role": "assistant", "content": blocks}
    raise InvalidRequestError(
        f"bedrock backends do not accept {message.role!r} messages",
        param=f"messages.{position}.role",
    )


def _inference_config(request: ChatRequest) -> JSONObject:
    return sampling(request, max_tokens_key="maxTokens")


def _tool_config(tools: list[Tool], choice: str | dict[str, object] | None) -> JSONObject:
    specs: list[JSON] = []
    for tool in tools:
        spec: JSONObject = {
            "name": tool.function.name,
            "inputSchema": {"json": tool_parameters(tool)},
        }
        if tool.function.description:
            spec["description"] = tool.function.description
        specs.append({"toolSpec": spec})
    config: JSONObject = {"tools": specs}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise InvalidRequestError("tool_choice names no function", param="tool_choice")
        config["toolChoice"] = {"tool": {"name": name}}
    return config


def chunk_from_wire(body: JSON) -> ChatChunk:
    """A whole Converse response as one chunk."""
    response = obj(body, "converse response")
    output = obj(response.get("output"), "output")
    message = obj(output.get("message"), "output.message")
    texts: list[str] = []
    calls: list[ToolCallDelta] = []
    reasoning: list[str] = []
    for block in arr(message.get("content"), "content"):
        content = obj(block, "content block")
        if "text" in content:
            texts.append(opt_str(content["text"], "text") or "")
        elif "toolUse" in content:
            calls.append(_tool_use(obj(content["toolUse"], "toolUse"), len(calls)))
        elif "reasoningContent" in content:
            reasoning.append(_reasoning_text(content["reasoningContent"]))
    stop = opt_str(response.get("stopReason"), "stopReason")
    choice = ChoiceDelta(
        role="assistant",
        text="".join(texts) if texts or not calls else None,
        tool_calls=tuple(calls),
        finish_reason=finish_reason(stop),
        extra={"reasoning_content": "".join(reasoning)} if reasoning else {},
    )
    usage = response.get("usage")
    return ChatChunk(choices=(choice,), usage=usage_from_wire(usage) if usage is not None else None)


def _tool_use(block: JSONObject, index: int) -> ToolCallDelta:
    arguments = block.get("input")
    return ToolCallDelta(
        index=index,
        id=opt_str(block.get("toolUseId"), "toolUseId"),
        name=opt_str(block.get("name"), "toolUse.name"),
        arguments=orjson.dumps(arguments if arguments is not None else {}).decode(),
        type="function",
    )


def _reasoning_text(value: JSON) -> str:
    block = obj(value, "reasoningContent")
    text = block.get("text")
    if text is None and isinstance(block.get("reasoningText"), dict):
        text = obj(block["reasoningText"], "reasoningText").get("text")
    return opt_str(text, "reasoning text") or ""


def finish_reason(stop: str | None) -> str | None:
    if stop is None:
        return None
    return FINISH_REASONS.get(stop, "stop")


def usage_from_wire(value: JSON) -> Usage:
    usage = obj(value, "usage")
    prompt = opt_int(usage.get("inputTokens"), "usage.inputTokens") or 0
    completion = opt_int(usage.get("outputTokens"), "usage.outputTokens") or 0
    total = opt_int(usage.get("totalTokens"), "usage.totalTokens")
    extra: JSONObject = {}
    if cached := opt_int(usage.get("cacheReadInputTokens"), "usage.cacheReadInputTokens"):
        extra["prompt_tokens_details"] = {"cached_tokens": cached}
    return Usage(prompt, completion, prompt + completion if total is None else total, extra=extra)


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    """AWS errors: `{"message": ...}` with the exception name in `x-amzn-ErrorType`."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = None
    if isinstance(payload, dict):
        found = payload.get("message", payload.get("Message"))
        message = found if isinstance(found, str) else None
    kind = headers.get("x-amzn-ErrorType", "").split(":", 1)[0]
    if kind == "ModelNotReadyException":
        status = 503  # a cold model: another attempt (or target) may well succeed
    return error_from_status(backend, status, f"{kind}: {message}" if kind else message, headers)


def error_from_exception_event(backend: str, kind: str, payload: bytes) -> UpstreamError:
    """An exception event inside a ConverseStream, by its `:exception-type`."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise malformed("a stream exception is not JSON") from None
    message = body.get("message") if isinstance(body, dict) else None
    detail = (
        f"backend {backend!r} stream failed: {kind}: {message if isinstance(message, str) else ''}"
    )
    if kind == "throttlingException":
        return UpstreamRateLimitError(detail, upstream_status=429)
    if kind == "validationException":
        return UpstreamRejectedError(detail, upstream_status=400)
    # a model failure will likely repeat; a service failure may not on another attempt
    retryable = kind in ("internalServerException", "serviceUnavailableException")
    return UpstreamError(detail, retryable=retryable)
