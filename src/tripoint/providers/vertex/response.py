"""Gemini `GenerateContentResponse`s -> chunks, whole or streamed. Pure.

A stream (`streamGenerateContent?alt=sse`) is a series of whole response objects, each with
the next piece of each candidate; usage is cumulative, so only the last one is reported.
A stream without a finishReason on every candidate was cut short.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from tripoint.errors import UpstreamError
from tripoint.providers.shape import arr, malformed, obj, opt_str
from tripoint.providers.sse import ServerSentEvent
from tripoint.providers.vertex.codec import candidate_delta, error_message, usage_from_wire
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Usage
from tripoint.schema.json import JSON, JSONObject


def chunk_from_wire(body: JSON) -> ChatChunk:
    """A whole `generateContent` answer as one chunk."""
    response = obj(body, "generateContent response")
    choices = tuple(
        replace(candidate_delta(obj(c, "candidate"), i, 0), role="assistant")
        for i, c in enumerate(_candidates(response))
    )
    usage = response.get("usageMetadata")
    return ChatChunk(
        choices=choices or (_blocked(response),),
        usage=usage_from_wire(usage) if usage is not None else None,
        id=opt_str(response.get("responseId"), "responseId"),
    )


def _candidates(response: JSONObject) -> list[JSON]:
    return arr(response.get("candidates"), "candidates")


def _blocked(response: JSONObject) -> ChoiceDelta:
    """No candidates: the prompt itself was blocked (promptFeedback.blockReason)."""
    feedback = response.get("promptFeedback")
    if feedback is None or "blockReason" not in obj(feedback, "promptFeedback"):
        raise malformed("an answer without candidates or promptFeedback")
    return ChoiceDelta(role="assistant", text="", finish_reason="content_filter")


class GenerateContentStreamTranslator:
    def __init__(self, backend: str = "vertex") -> None:
        self._backend = backend
        self._calls: dict[int, int] = {}  # candidate index -> tool calls sent so far
        self._finished: set[int] = set()
        self._started: set[int] = set()
        self._usage: Usage | None = None
        self._id: str | None = None

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        try:
            body = obj(orjson.loads(event.data), "stream event")
        except orjson.JSONDecodeError:
            raise malformed("a stream event is not JSON") from None
        if "error" in body:
            detail = error_message(body) or "unknown error"
            raise UpstreamError(
                f"backend {self._backend!r} stream failed: {detail}", retryable=False
            )
        if (usage := body.get("usageMetadata")) is not None:
            self._usage = usage_from_wire(usage)
        self._id = self._id or opt_str(body.get("responseId"), "responseId")
        candidates = _candidates(body)
        if not candidates and "promptFeedback" in body:
            self._finished.add(0)
            return ChatChunk(choices=(_blocked(body),), id=self._id)
        choices = tuple(self._choice(obj(c, "candidate"), i) for i, c in enumerate(candidates))
        return ChatChunk(choices=choices, id=self._id) if choices else None

    def _choice(self, candidate: JSONObject, position: int) -> ChoiceDelta:
        delta = candidate_delta(candidate, position, self._calls.get(position, 0))
        if delta.text == "":
            # Gemini's last piece carries an empty text part beside finishReason; OpenAI's
            # last chunk carries no content at all
            delta = replace(delta, text=None)
        self._calls[delta.index] = self._calls.get(delta.index, 0) + len(delta.tool_calls)
        if delta.finish_reason is not None:
            self._finished.add(delta.index)
        if delta.index not in self._started:
            self._started.add(delta.index)
            delta = replace(delta, role="assistant")
        return delta

    def finish(self) -> ChatChunk:
        """At the end of the byte stream: the usage chunk, or an error if it was cut short."""
        if not self._finished or self._started - self._finished:
            raise UpstreamError(
                f"backend {self._backend!r} ended the stream before the answer finished"
            )
        return ChatChunk(usage=self._usage, id=self._id)
