"""OpenAI tool definitions and call arguments as the JSON objects native APIs expect."""

from __future__ import annotations

import secrets

import orjson

from tripoint.errors import InvalidRequestError
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, Message, Sampling, Tool


def refuse_unsupported(request: Sampling, backend: str, *fields: str) -> None:
    """A field the backend type cannot honour is a 400 naming it, never silently dropped
    (`response_format: text` and false/zero values ask for nothing and pass)."""
    for name in fields:
        value = getattr(request, name, None)
        if value in (None, False) or getattr(value, "type", None) == "text":
            continue
        raise InvalidRequestError(f"the {backend} backend type does not support {name}", param=name)


def new_call_id() -> str:
    """An id for a tool call the backend sent without one (Ollama, Gemini). OpenAI clients
    send it back with the tool's result, so it must be unique across a conversation's turns,
    not only within one answer: `call_<96 random bits>`."""
    return f"call_{secrets.token_hex(12)}"


def tool_input(arguments: str, position: int) -> JSON:
    """Tool-call arguments are a JSON string in OpenAI and a JSON object upstream."""
    try:
        parsed: JSON = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            "tool call arguments must be a JSON object",
            param=f"messages.{position}.tool_calls",
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidRequestError(
            "tool call arguments must be a JSON object", param=f"messages.{position}.tool_calls"
        )
    return parsed


def tool_parameters(tool: Tool) -> JSONObject:
    """The tool's JSON schema; none, or an empty one, is an object with no properties (the
    native APIs want an object schema: Anthropic's, through Bedrock too, requires `type`)."""
    parameters = (tool.function.model_extra or {}).get("parameters")
    if isinstance(parameters, dict) and parameters:
        return parameters
    return {"type": "object", "properties": {}}


def text_only(message: Message, position: int) -> str:
    """A message's text, for backends that take no images or other content parts."""
    if isinstance(message.content, list) and any(p.type != "text" for p in message.content):
        raise InvalidRequestError(
            "this backend accepts text content parts only", param=f"messages.{position}.content"
        )
    return message.text()


def merge_turn(turns: list[JSONObject], turn: JSONObject, *, blocks: str) -> None:
    """Append a turn, folding it into the previous one when the role repeats (APIs that
    require alternating roles: consecutive tool results become one user turn)."""
    if turns and turns[-1]["role"] == turn["role"]:
        previous, added = turns[-1][blocks], turn[blocks]
        if isinstance(previous, list) and isinstance(added, list):
            previous.extend(added)
            return
    turns.append(turn)


def sampling(request: ChatRequest, *, max_tokens_key: str) -> JSONObject:
    """The sampling fields AWS and Google name alike (camelCase), but for the token cap."""
    config: JSONObject = {}
    if max_tokens := request.max_completion_tokens or request.max_tokens:
        config[max_tokens_key] = max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = list[JSON](
            [request.stop] if isinstance(request.stop, str) else request.stop
        )
    return config
