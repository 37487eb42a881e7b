"""TGI native wire format (`/generate`, `/generate_stream`) <-> Tripoint requests and chunks. Pure.

Usage comes from TGI's details: `generated_tokens` always, prompt tokens from
`details.prefill` (whole answers, asked for with `decoder_input_details`) or
`details.input_length` (the final stream event).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from tripoint.config.schema import PromptTemplate
from tripoint.errors import InvalidRequestError, UpstreamError
from tripoint.providers.shape import arr, malformed, obj, opt_int, opt_str
from tripoint.providers.sse import ServerSentEvent
from tripoint.providers.status import error_from_status
from tripoint.providers.tgi.template import render
from tripoint.providers.toolspec import refuse_unsupported
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Usage
from tripoint.schema.json import JSON, JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest, Sampling

FINISH_REASONS = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


def chat_to_wire(request: ChatRequest, template: PromptTemplate) -> JSONObject:
    if request.tools:
        raise InvalidRequestError(
            "the tgi backend type has no tool calls; route tools to TGI's OpenAI route "
            "(`type: openai`, base_url .../v1) instead",
            param="tools",
        )
    refuse_unsupported(request, "tgi", "logprobs", "top_logprobs", "response_format")
    max_tokens = request.max_completion_tokens or request.max_tokens
    return _body(render(request.messages, template), request, max_tokens, template.stop)


def completion_to_wire(request: CompletionRequest) -> JSONObject:
    if not isinstance(request.prompt, str):
        raise InvalidRequestError(
            "the tgi backend type takes one prompt string per request", param="prompt"
        )
    refuse_unsupported(request, "tgi", "logprobs", "echo", "suffix")
    return _body(request.prompt, request, request.max_tokens, ())


def _body(
    prompt: str, request: Sampling, max_tokens: int | None, stop: tuple[str, ...]
) -> JSONObject:
    if request.n != 1:
        raise InvalidRequestError("the tgi backend type answers one choice (n=1)", param="n")
    parameters: JSONObject = {"details": True, "decoder_input_details": not request.stream}
    if max_tokens is not None:
        parameters["max_new_tokens"] = max_tokens
    # TGI wants 0 < temperature and 0 < top_p < 1; temperature 0 means greedy decoding
    if request.temperature:
        parameters["do_sample"] = True
        parameters["temperature"] = request.temperature
    if request.top_p is not None and 0 < request.top_p < 1:
        parameters["top_p"] = request.top_p
    if request.seed is not None and request.seed > 0:
        parameters["seed"] = request.seed
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if all_stops := list(dict.fromkeys([*stops, *stop])):
        parameters["stop"] = list[JSON](all_stops)
    return {"inputs": prompt, "parameters": parameters}


def chunk_from_generate(body: JSON, *, chat: bool) -> ChatChunk:
    """A whole `/generate` answer as one chunk."""
    response = obj(body, "generate response")
    text = opt_str(response.get("generated_text"), "generated_text")
    if text is None:
        raise malformed("generated_text is missing")
    details = response.get("details")
    finish, usage = _details(obj(details, "details")) if details is not None else (None, None)
    choice = ChoiceDelta(role="assistant" if chat else None, text=text, finish_reason=finish)
    return ChatChunk(choices=(choice,), usage=usage)


def chunks_from_event(event: ServerSentEvent) -> tuple[tuple[ChatChunk, ...], bool]:
    """One `/generate_stream` event as OpenAI-shaped stream chunks, and whether it was the last.

    A token becomes a text piece (special tokens such as `</s>` say nothing); the last event,
    with `details`, also gives a chunk with the finish reason and then one with the usage.
    TGI ends its stream by closing it, so a stream without a last event was cut.
    """
    try:
        payload = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        raise malformed("an event is not JSON") from None
    body = obj(payload, "event")
    if "error" in body:
        raise UpstreamError(f"upstream stream failed: {_message(body)}", retryable=False)
    token = obj(body.get("token"), "token")
    special = token.get("special") is True
    text = "" if special else opt_str(token.get("text"), "token.text") or ""
    details = body.get("details")
    finish, usage = _details(obj(details, "details")) if details is not None else (None, None)
    done = details is not None or body.get("generated_text") is not None
    chunks: list[ChatChunk] = []
    if text:
        chunks.append(ChatChunk(choices=(ChoiceDelta(text=text),)))
    if done:
        chunks.append(ChatChunk(choices=(ChoiceDelta(finish_reason=finish or "stop"),)))
        if usage is not None:
            chunks.append(ChatChunk(usage=usage))
    return tuple(chunks), done


OPENING = ChatChunk(choices=(ChoiceDelta(role="assistant", text=""),))  # OpenAI's first chunk


def error_from_wire(
    backend: str, status: int, body: str, headers: Mapping[str, str]
) -> UpstreamError:
    """TGI errors are `{"error": "...", "error_type": "validation" | "overloaded" | ...}`."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = _message(payload) if isinstance(payload, dict) else None
    return error_from_status(backend, status, message, headers)


def _details(details: JSONObject) -> tuple[str | None, Usage | None]:
    reason = opt_str(details.get("finish_reason"), "finish_reason")
    generated = opt_int(details.get("generated_tokens"), "generated_tokens")
    prompt = opt_int(details.get("input_length"), "input_length")
    if prompt is None and details.get("prefill"):
        prompt = len(arr(details.get("prefill"), "prefill"))
    usage = None
    if generated is not None:
        usage = Usage(prompt or 0, generated, (prompt or 0) + generated)
    return (FINISH_REASONS.get(reason, reason) if reason else None), usage


def _message(body: JSONObject) -> str:
    error = body.get("error")
    return error if isinstance(error, str) else "unknown error"
