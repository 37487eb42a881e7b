"""OpenAI chat requests <-> Gemini `generateContent` on Vertex AI, and back. Pure: no I/O.

Gemini speaks `contents` of `parts` with roles user/model; the system prompt is a separate
`systemInstruction`; tools are `functionDeclarations`, the model answers with `functionCall`
parts (whole arguments, never split) and the caller replies with `functionResponse` parts,
which carry the function's name rather than a call id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import orjson

from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.shape import arr, obj, opt_int, opt_str
from tripoint.providers.status import error_from_status
from tripoint.providers.toolspec import (
    merge_turn,
    new_call_id,
    refuse_unsupported,
    sampling,
    text_only,
    tool_input,
    tool_parameters,
)
from tripoint.schema.chunks import ChoiceDelta, ToolCallDelta, Usage
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, Message, Tool

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
_CHOICES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
# Gemini 2.5+ signs its function calls (`thoughtSignature`) and Gemini 3 refuses a follow-up
# turn that does not return the signature. OpenAI clients echo tool call ids verbatim, so the
# signature rides in the id: `call_<hex>~ts~<signature>` (base64 never contains `~`).
SIGNATURE_MARK = "~ts~"


def to_wire(request: ChatRequest) -> JSONObject:
    refuse_unsupported(request, "vertex", "logprobs", "top_logprobs")
    system: list[JSON] = []
    contents: list[JSONObject] = []
    names: dict[str, str] = {}  # tool call id -> function name, for functionResponse
    for position, message in enumerate(request.messages):
        if message.role in ("system", "developer"):
            system.append({"text": text_only(message, position)})
            continue
        for call in message.tool_calls or ():
            names[call.id] = call.function.name
        merge_turn(contents, _content(message, position, names), blocks="parts")
    body: JSONObject = {"contents": list[JSON](contents)}
    if system:
        body["systemInstruction"] = {"parts": system}
    if config := _generation_config(request):
        body["generationConfig"] = config
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
        if request.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
    return body


def _content(message: Message, position: int, names: Mapping[str, str]) -> JSONObject:
    if message.role == "user":
        return {"role": "user", "parts": [{"text": text_only(message, position)}]}
    if message.role == "assistant":
        parts: list[JSON] = []
        if text := text_only(message, position):
            parts.append({"text": text})
        for call in message.tool_calls or ():
            part: JSONObject = {
                "functionCall": {
                    "name": call.function.name,
                    "args": tool_input(call.function.arguments, position),
                }
            }
            _, _, signature = call.id.partition(SIGNATURE_MARK)
            if signature:
                part["thoughtSignature"] = signature
            parts.append(part)
        return {"role": "model", "parts": parts}
    if message.role == "tool":
        name = names.get(message.tool_call_id or "")
        if name is None:
            raise InvalidRequestError(
                "a tool message must answer a tool call of an earlier assistant message",
                param=f"messages.{position}.tool_call_id",
            )
        return {
            "role": "user",
            "parts": [{"functionResponse": {"name": name, "response": _response(message)}}],
        }
    raise InvalidRequestError(
        f"vertex backends do not accept {message.role!r} messages",
        param=f"messages.{position}.role",
    )


def _response(message: Message) -> JSONObject:
    """functionResponse.response is an object: a JSON object result as is, else wrapped."""
    text = message.text()
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"content": text}


def _generation_config(request: ChatRequest) -> JSONObject:
    config = sampling(request, max_tokens_key="maxOutputTokens")
    if request.n != 1:
        config["candidateCount"] = request.n
    if request.seed is not None:
        config["seed"] = request.seed
    if request.response_format and request.response_format.type != "text":
        config["responseMimeType"] = "application/json"
        schema = (request.response_format.model_extra or {}).get("json_schema")
        if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
            config["responseJsonSchema"] = schema["schema"]
    return config


def _declaration(tool: Tool) -> JSON:
    declaration: JSONObject = {"name": tool.function.name, "parameters": tool_parameters(tool)}
    if tool.function.description:
        declaration["description"] = tool.function.description
    return declaration


def _calling_config(choice: str | dict[str, object]) -> JSONObject:
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise InvalidRequestError(f"unknown tool_choice {choice!r}", param="tool_choice")
        return {"mode": _CHOICES[choice]}
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise InvalidRequestError("tool_choice names no function", param="tool_choice")
    return {"mode": "ANY", "allowedFunctionNames": [name]}


def candidate_delta(candidate: JSONObject, position: int, first_call: int) -> ChoiceDelta:
    """One candidate (whole, or one streamed piece); tool calls are numbered from first_call."""
    content = candidate.get("content")
    parts = arr(obj(content, "content").get("parts"), "parts") if content is not None else []
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCallDelta] = []
    for raw in parts:
        part = obj(raw, "part")
        if "functionCall" in part:
            call = _call(obj(part["functionCall"], "functionCall"), first_call + len(calls))
            if signature := opt_str(part.get("thoughtSignature"), "thoughtSignature"):
                call = replace(call, id=f"{call.id}{SIGNATURE_MARK}{signature}")
            calls.append(call)
        elif isinstance(text := part.get("text"), str):
            (thoughts if part.get("thought") is True else texts).append(text)
    reason = opt_str(candidate.get("finishReason"), "finishReason")
    finish = None
    if reason is not None:
        finish = FINISH_REASONS.get(reason, "stop")
        if finish == "stop" and (calls or first_call):
            finish = "tool_calls"
    return ChoiceDelta(
        index=opt_int(candidate.get("index"), "candidate.index") or position,
        text="".join(texts) if texts else None,
        tool_calls=tuple(calls),
        finish_reason=finish,
        extra={"reasoning_content": "".join(thoughts)} if thoughts else {},
    )


def _call(call: JSONObject, index: int) -> ToolCallDelta:
    args = call.get("args")
    return ToolCallDelta(
        index=index,
        id=opt_str(call.get("id"), "functionCall.id") or new_call_id(),
        name=opt_str(call.get("name"), "functionCall.name"),
        arguments=orjson.dumps(args if args is not None else {}).decode(),
        type="function",
    )


def usage_from_wire(value: JSON) -> Usage:
    usage = obj(value, "usageMetadata")
    prompt = opt_int(usage.get("promptTokenCount"), "promptTokenCount") or 0
    completion = (opt_int(usage.get("candidatesTokenCount"), "candidatesTokenCount") or 0) + (
        opt_int(usage.get("thoughtsTokenCount"), "thoughtsTokenCount") or 0
    )
    total = opt_int(usage.get("totalTokenCount"), "totalTokenCount")
    extra: JSONObject = {}
    if cached := opt_int(usage.get("cachedContentTokenCount"), "cachedContentTokenCount"):
        extra["prompt_tokens_details"] = {"cached_tokens": cached}
    return Usage(prompt, completion, prompt + completion if total is None else total, extra=extra)


def error_message(body: JSON) -> str | None:
    """Google's error envelope: `{"error": {"code", "message", "status"}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message, status = error.get("message"), error.get("status")
        if isinstance(message, str):
            return f"{status}: {message}" if isinstance(status, str) else message
    return None


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    return error_from_status(backend, status, error_message(payload), headers)
