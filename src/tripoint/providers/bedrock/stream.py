"""ConverseStream events -> chunks. Pure: one translator per response, fed decoded messages.

Event order: messageStart, then per content block contentBlockStart (tool use only),
contentBlockDelta..., contentBlockStop; then messageStop (stopReason) and metadata (usage).
The role from messageStart is held back and sent with the first content, so an exception
that arrives before any content still lets the router fall back to another target.
"""

from __future__ import annotations

import orjson

from tripoint.errors import UpstreamError
from tripoint.providers.bedrock.codec import (
    error_from_exception_event,
    finish_reason,
    usage_from_wire,
)
from tripoint.providers.bedrock.eventstream import EventMessage
from tripoint.providers.shape import malformed, obj, opt_int, opt_str
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, ToolCallDelta
from tripoint.schema.json import JSONObject


class ConverseStreamTranslator:
    def __init__(self, backend: str) -> None:
        self._backend = backend
        self._role: str | None = None
        self._tool_of_block: dict[int, int] = {}  # contentBlockIndex -> OpenAI tool call index
        self.stopped = False  # messageStop seen
        self.finished = False  # metadata (usage) seen: the last event of a whole answer

    def feed(self, message: EventMessage) -> ChatChunk | None:
        kind = message.header(":message-type")
        if kind == "exception":
            raise error_from_exception_event(
                self._backend, message.header(":exception-type") or "exception", message.payload
            )
        if kind == "error":
            raise UpstreamError(
                f"bedrock stream failed: {message.header(':error-code')}: "
                f"{message.header(':error-message')}",
                retryable=False,
            )
        if kind != "event":
            raise malformed(f"an event stream message of type {kind!r}")
        return self._event(message.header(":event-type") or "", _payload(message.payload))

    def _event(self, event: str, body: JSONObject) -> ChatChunk | None:
        match event:
            case "messageStart":
                self._role = opt_str(body.get("role"), "role") or "assistant"
                return None
            case "contentBlockStart":
                return self._block_start(body)
            case "contentBlockDelta":
                return self._delta(body)
            case "messageStop":
                self.stopped = True
                stop = finish_reason(opt_str(body.get("stopReason"), "stopReason"))
                return self._chunk(ChoiceDelta(finish_reason=stop or "stop"))
            case "metadata":
                self.finished = True
                return ChatChunk(usage=usage_from_wire(body.get("usage")))
            case _:
                return None  # contentBlockStop and events added later carry nothing we map

    def _block_start(self, body: JSONObject) -> ChatChunk | None:
        start = obj(body.get("start"), "contentBlockStart.start")
        if "toolUse" not in start:
            return None
        tool = obj(start["toolUse"], "start.toolUse")
        index = len(self._tool_of_block)
        self._tool_of_block[_block_index(body)] = index
        call = ToolCallDelta(
            index=index,
            id=opt_str(tool.get("toolUseId"), "toolUseId"),
            name=opt_str(tool.get("name"), "toolUse.name"),
            type="function",
        )
        return self._chunk(ChoiceDelta(tool_calls=(call,)))

    def _delta(self, body: JSONObject) -> ChatChunk | None:
        delta = obj(body.get("delta"), "contentBlockDelta.delta")
        if "text" in delta:
            return self._chunk(ChoiceDelta(text=opt_str(delta["text"], "delta.text") or ""))
        if "toolUse" in delta:
            block = _block_index(body)
            if block not in self._tool_of_block:
                raise malformed("a tool input delta for a block that never started")
            piece = obj(delta["toolUse"], "delta.toolUse").get("input")
            call = ToolCallDelta(
                index=self._tool_of_block[block], arguments=opt_str(piece, "toolUse.input") or ""
            )
            return self._chunk(ChoiceDelta(tool_calls=(call,)))
        if "reasoningContent" in delta:
            reasoning = obj(delta["reasoningContent"], "delta.reasoningContent")
            if text := opt_str(reasoning.get("text"), "reasoningContent.text"):
                return self._chunk(ChoiceDelta(extra={"reasoning_content": text}))
        return None

    def _chunk(self, choice: ChoiceDelta) -> ChatChunk:
        if self._role is not None:
            choice = ChoiceDelta(
                role=self._role,
                text=choice.text,
                tool_calls=choice.tool_calls,
                finish_reason=choice.finish_reason,
                extra=choice.extra,
            )
            self._role = None
        return ChatChunk(choices=(choice,))


def _payload(payload: bytes) -> JSONObject:
    try:
        return obj(orjson.loads(payload), "stream event")
    except orjson.JSONDecodeError:
        raise malformed("a stream event is not JSON") from None


def _block_index(body: JSONObject) -> int:
    index = opt_int(body.get("contentBlockIndex"), "contentBlockIndex")
    if index is None:
        raise malformed("a content block event without contentBlockIndex")
    return index
