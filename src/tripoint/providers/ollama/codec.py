"""Ollama native wire format (`/api/chat`, `/api/generate`, `/api/embed`) <-> Tripoint. Pure.

Streams are NDJSON: one object a line, the last with `done: true` and the token counts
(`prompt_eval_count`, `eval_count`). Tool calls arrive whole, arguments as a JSON object,
without ids: each gets an index in arrival order and an id from `make_id`.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Mapping

import orjson

from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.shape import arr, malformed, obj, opt_int, opt_str
from tripoint.providers.status import error_from_status
from tripoint.providers.toolspec import refuse_unsupported
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, EmbeddingResult, ToolCallDelta, Usage
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    Message,
    Sampling,
)

Options = Mapping[str, bool | int | float | str]


def chat_to_wire(
    request: ChatRequest, model: str, options: Options, keep_alive: str | None
) -> JSONObject:
    refuse_unsupported(request, "ollama", "logprobs", "top_logprobs")
    max_tokens = request.max_completion_tokens or request.max_tokens
    body = _base(request, model, options, keep_alive, max_tokens)
    names = {c.id: c.function.name for m in request.messages for c in m.tool_calls or []}
    body["messages"] = [_message(m, names) for m in request.messages]
    if request.tools:
        body["tools"] = [t.model_dump(mode="json", exclude_none=True) for t in request.tools]
    if request.response_format is not None and request.response_format.type != "text":
        body["format"] = _format(request)
    return body


def completion_to_wire(
    request: CompletionRequest, model: str, options: Options, keep_alive: str | None
) -> JSONObject:
    if not isinstance(request.prompt, str):
        raise InvalidRequestError(
            "the ollama backend type takes one prompt string per request", param="prompt"
        )
    refuse_unsupported(request, "ollama", "logprobs", "echo")
    body = _base(request, model, options, keep_alive, request.max_tokens)
    body["prompt"] = request.prompt
    body["raw"] = True  # a text completion continues the prompt as written, no chat template
    if request.suffix is not None:
        body["suffix"] = request.suffix
    return body


def embed_to_wire(request: EmbeddingRequest, model: str, keep_alive: str | None) -> JSONObject:
    texts = request.input
    if isinstance(texts, str):
        wire: JSON = texts
    else:
        wire = [t for t in texts if isinstance(t, str)]
        if len(wire) != len(texts):
            raise InvalidRequestError(
                "the ollama backend type embeds text, not token ids", param="input"
            )
    body: JSONObject = {"model": model, "input": wire}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


class ChatDecoder:
    """Ollama answer objects to chunks: one whole answer, or stream lines in order."""

    def __init__(self, make_id: Callable[[], str]) -> None:
        self._make_id = make_id
        self._tool_calls = 0
        self._opened = False
        self.done = False

    def whole(self, body: JSON) -> ChatChunk:
        """A non-streamed answer as one chunk: role, text, tool calls, finish reason, usage."""
        answer, text, calls, extra = self._read(body)
        if not self.done:
            raise malformed("the answer is not marked done")
        choice = ChoiceDelta(
            role="assistant" if "message" in answer else None,
            text=(text or None) if calls else (text or ""),  # OpenAI: null beside tool calls
            tool_calls=calls,
            finish_reason=self._finish(answer),
            extra=extra,
        )
        return ChatChunk(choices=(choice,), usage=_usage(answer))

    def stream(self, body: JSON) -> tuple[ChatChunk, ...]:
        """One stream line as OpenAI-shaped chunks: the opening role (first line), a text
        piece, whole tool calls; on the `done` line the finish reason and then the usage."""
        answer, text, calls, extra = self._read(body)
        chunks: list[ChatChunk] = []
        if not self._opened and "message" in answer:
            chunks.append(ChatChunk(choices=(ChoiceDelta(role="assistant", text=""),)))
        self._opened = True
        if text or extra:
            chunks.append(ChatChunk(choices=(ChoiceDelta(text=text or None, extra=extra),)))
        if calls:
            chunks.append(ChatChunk(choices=(ChoiceDelta(tool_calls=calls),)))
        if self.done:
            chunks.append(ChatChunk(choices=(ChoiceDelta(finish_reason=self._finish(answer)),)))
            chunks.append(ChatChunk(usage=_usage(answer)))
        return tuple(chunks)

    def _read(
        self, body: JSON
    ) -> tuple[JSONObject, str | None, tuple[ToolCallDelta, ...], JSONObject]:
        answer = obj(body, "answer")
        if "error" in answer:
            raise UpstreamError(f"upstream stream failed: {_error(answer)}", retryable=False)
        message = answer.get("message")
        fields = obj(message, "message") if message is not None else {}
        if message is None and "response" not in answer:
            raise malformed("the answer has neither a message nor a response")
        text = opt_str(
            fields.get("content") if message is not None else answer.get("response"), "content"
        )
        calls = tuple(
            self._tool_call(obj(c, "tool_call"))
            for c in arr(fields.get("tool_calls"), "tool_calls")
        )
        extra: JSONObject = {}
        if thinking := opt_str(fields.get("thinking"), "thinking"):
            extra["reasoning_content"] = thinking
        self.done = answer.get("done") is True
        return answer, text, calls, extra

    def _tool_call(self, call: JSONObject) -> ToolCallDelta:
        function = obj(call.get("function"), "tool_call.function")
        arguments = function.get("arguments")
        index = self._tool_calls
        self._tool_calls += 1
        return ToolCallDelta(
            index=index,
            id=opt_str(call.get("id"), "tool_call.id") or self._make_id(),
            name=opt_str(function.get("name"), "function.name"),
            arguments=arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode(),
            type="function",
        )

    def _finish(self, answer: JSONObject) -> str:
        if self._tool_calls:
            return "tool_calls"
        reason = opt_str(answer.get("done_reason"), "done_reason")
        return "length" if reason == "length" else "stop"


def embedding_from_wire(body: JSON, *, base64_vectors: bool) -> EmbeddingResult:
    response = obj(body, "embed response")
    vectors: list[list[float] | str] = []
    for row in arr(response.get("embeddings"), "embeddings"):
        if not isinstance(row, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in row
        ):
            raise malformed("an embedding is not a list of numbers")
        floats = [float(x) for x in row if isinstance(x, int | float)]
        vectors.append(_base64(floats) if base64_vectors else floats)
    prompt = opt_int(response.get("prompt_eval_count"), "prompt_eval_count") or 0
    return EmbeddingResult(vectors=tuple(vectors), usage=Usage(prompt, 0, prompt))


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    """Ollama errors are `{"error": "message"}`."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = _error(payload) if isinstance(payload, dict) else None
    return error_from_status(backend, status, message, headers)


def parse_line(line: bytes) -> JSON:
    try:
        parsed: JSON = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise malformed("a stream line is not JSON") from None
    return parsed


def _base(
    request: Sampling, model: str, options: Options, keep_alive: str | None, max_tokens: int | None
) -> JSONObject:
    if request.n != 1:
        raise InvalidRequestError("the ollama backend type answers one choice (n=1)", param="n")
    merged: JSONObject = dict(options)
    for key, value in (
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("seed", request.seed),
        ("num_predict", max_tokens),
    ):
        if value is not None:
            merged[key] = value
    if request.stop is not None:
        merged["stop"] = (
            [request.stop] if isinstance(request.stop, str) else list[JSON](request.stop)
        )
    body: JSONObject = {"model": model, "stream": request.stream}
    if merged:
        body["options"] = merged
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


def _message(message: Message, names: Mapping[str, str]) -> JSONObject:
    role = {"developer": "system", "function": "tool"}.get(message.role, message.role)
    wire: JSONObject = {"role": role, "content": message.text()}
    if images := _images(message):
        wire["images"] = images
    if message.tool_calls:
        wire["tool_calls"] = [
            {"function": {"name": c.function.name, "arguments": _arguments(c.function.arguments)}}
            for c in message.tool_calls
        ]
    if role == "tool":
        name = names.get(message.tool_call_id or "") or message.name
        if name:
            wire["tool_name"] = name
    return wire


def _images(message: Message) -> list[JSON]:
    """Ollama takes images as bare base64; OpenAI clients send `data:` URLs."""
    if not isinstance(message.content, list):
        return []
    images: list[JSON] = []
    for part in message.content:
        if part.type != "image_url":
            continue
        image = (part.model_extra or {}).get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
            raise InvalidRequestError(
                "the ollama backend type takes images as base64 data: URLs", param="messages"
            )
        images.append(url.split(";base64,", 1)[1])
    return images


def _arguments(arguments: str) -> JSON:
    try:
        parsed: JSON = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise InvalidRequestError(
            "tool call arguments must be a JSON object", param="messages"
        ) from None
    return parsed


def _format(request: ChatRequest) -> JSON:
    assert request.response_format is not None  # noqa: S101 -- checked by the caller
    if request.response_format.type == "json_object":
        return "json"
    spec = (request.response_format.model_extra or {}).get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise InvalidRequestError(
            "response_format.json_schema.schema is required", param="response_format"
        )
    return schema


def _usage(answer: JSONObject) -> Usage:
    prompt = opt_int(answer.get("prompt_eval_count"), "prompt_eval_count") or 0
    completion = opt_int(answer.get("eval_count"), "eval_count") or 0
    return Usage(prompt, completion, prompt + completion)


def _base64(vector: list[float]) -> str:
    # OpenAI's base64 encoding: little-endian float32
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _error(body: JSONObject) -> str:
    error = body.get("error")
    return error if isinstance(error, str) else "unknown error"
