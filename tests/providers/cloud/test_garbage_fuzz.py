"""Whatever JSON an upstream sends, the cloud codecs answer chunks or an UpstreamError:
never a KeyError, TypeError or AttributeError that would surface as a 500."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.eventstream import encode_message
from tripoint.errors import UpstreamError
from tripoint.providers.bedrock import codec as bedrock
from tripoint.providers.bedrock.eventstream import EventStreamDecoder
from tripoint.providers.bedrock.stream import ConverseStreamTranslator
from tripoint.providers.sse import ServerSentEvent
from tripoint.providers.vertex import response as vertex
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.render import Identity, chat_response_json

KEYS = st.sampled_from(  # the wire names, so garbage lands where the codecs look
    [
        "output", "message", "content", "text", "toolUse", "toolUseId", "name", "input",
        "stopReason", "usage", "inputTokens", "outputTokens", "totalTokens", "delta", "start",
        "contentBlockIndex", "role", "reasoningContent", "candidates", "parts", "functionCall",
        "args", "finishReason", "usageMetadata", "promptTokenCount", "candidatesTokenCount",
        "totalTokenCount", "index", "promptFeedback", "blockReason", "error", "thought",
        "thoughtSignature", "responseId", "id",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=5,
)
OBJECT = st.dictionaries(KEYS, JSON, max_size=4)


def maybe(**fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Objects shaped like the real ones, each field present or not, any value or garbage."""
    return st.fixed_dictionaries(
        {}, optional={k: st.one_of(v, v, v, JSON) for k, v in fields.items()}
    )


PART = maybe(
    text=st.text(max_size=3),
    functionCall=maybe(name=st.text(max_size=3), args=OBJECT, id=JSON),
    thought=st.booleans(),
    thoughtSignature=JSON,
)
CANDIDATE = maybe(
    content=maybe(role=JSON, parts=st.lists(PART, max_size=3)),
    finishReason=st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY"]),
    index=JSON,
)
USAGE_METADATA = maybe(
    promptTokenCount=st.integers(0, 9),
    candidatesTokenCount=JSON,
    thoughtsTokenCount=JSON,
    totalTokenCount=JSON,
)
GEMINI = maybe(
    candidates=st.lists(CANDIDATE, max_size=2),
    usageMetadata=USAGE_METADATA,
    promptFeedback=maybe(blockReason=JSON),
    responseId=JSON,
    error=maybe(message=JSON, status=JSON),
)
BLOCK = maybe(
    text=JSON,
    toolUse=maybe(toolUseId=JSON, name=JSON, input=JSON),
    reasoningContent=maybe(text=JSON, reasoningText=maybe(text=JSON)),
)
USAGE = maybe(
    inputTokens=st.integers(0, 9), outputTokens=JSON, totalTokens=JSON, cacheReadInputTokens=JSON
)
CONVERSE = maybe(
    output=maybe(message=maybe(role=JSON, content=st.lists(BLOCK, max_size=3))),
    stopReason=st.sampled_from(["end_turn", "tool_use"]),
    usage=USAGE,
)
STREAM_PAYLOAD = maybe(
    role=JSON,
    contentBlockIndex=st.integers(0, 2),
    start=maybe(toolUse=maybe(toolUseId=JSON, name=JSON)),
    delta=maybe(text=JSON, toolUse=maybe(input=JSON), reasoningContent=maybe(text=JSON)),
    stopReason=JSON,
    usage=USAGE,
)
EVENTS = st.sampled_from(
    [
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
)
FUZZ_STREAM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_upstream_errors(work: Any) -> None:
    """`work` returns the chunks it made; each must be well typed and render as OpenAI JSON."""
    with contextlib.suppress(UpstreamError):
        chunks = [c for c in work() if c is not None]
        for chunk in chunks:
            well_typed(chunk)
        chat_response_json(chunks, Identity("chatcmpl-x", "m"))


def well_typed(chunk: ChatChunk) -> None:
    assert isinstance(chunk.id, str | None)
    if chunk.usage is not None:
        usage = chunk.usage
        assert all(
            type(n) is int
            for n in (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        )
    for choice in chunk.choices:
        assert type(choice.index) is int
        assert isinstance(choice.role, str | None)
        assert isinstance(choice.text, str | None)
        assert isinstance(choice.finish_reason, str | None)
        for call in choice.tool_calls:
            assert type(call.index) is int
            assert isinstance(call.id, str | None)
            assert isinstance(call.name, str | None)
            assert isinstance(call.arguments, str)


@FUZZ
@given(CONVERSE)
def test_bedrock_whole_answers(body: Any) -> None:
    only_upstream_errors(lambda: [bedrock.chunk_from_wire(body)])


@FUZZ_STREAM
@given(st.lists(st.tuples(EVENTS, STREAM_PAYLOAD), max_size=4))
def test_bedrock_stream_events(events: list[tuple[str, Any]]) -> None:
    translator = ConverseStreamTranslator("b")
    frames = b"".join(
        encode_message({":event-type": name, ":message-type": "event"}, orjson.dumps(payload))
        for name, payload in events
    )

    def feed_all() -> list[ChatChunk | None]:
        return [translator.feed(message) for message in EventStreamDecoder().feed(frames)]

    only_upstream_errors(feed_all)


@FUZZ
@given(GEMINI)
def test_vertex_whole_answers(body: Any) -> None:
    only_upstream_errors(lambda: [vertex.chunk_from_wire(body)])


@FUZZ_STREAM
@given(st.lists(GEMINI, max_size=3))
def test_vertex_stream_events(events: list[Any]) -> None:
    translator = vertex.GenerateContentStreamTranslator()

    def feed_all() -> list[ChatChunk | None]:
        chunks = [
            translator.feed(ServerSentEvent(orjson.dumps(event).decode())) for event in events
        ]
        return [*chunks, translator.finish()]

    only_upstream_errors(feed_all)


@FUZZ
@given(st.binary(max_size=200))
def test_event_stream_decoder_bytes(data: bytes) -> None:
    with contextlib.suppress(UpstreamError):
        EventStreamDecoder().feed(data)
