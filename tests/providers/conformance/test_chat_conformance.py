"""Every chat provider, against recorded fixtures of its own wire format: see __init__.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.fakes.replay_upstream import ReplayServer, Reply
from tests.providers.conformance.case import FIXTURES, ProviderCase
from tests.providers.conformance.scenarios import request
from tripoint.errors import (
    InvalidRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
)
from tripoint.providers.base import ChatProvider
from tripoint.providers.target import Target
from tripoint.schema.chunks import ChatChunk
from tripoint.schema.render import gather
from tripoint.schema.requests import ChatRequest

HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


async def answer(provider: ChatProvider, body: ChatRequest, target: Target) -> list[ChatChunk]:
    return [chunk async for chunk in provider.chat(body, target)]


async def answer_into(
    received: list[ChatChunk], provider: ChatProvider, body: ChatRequest, target: Target
) -> None:
    """Like `answer`, keeping the chunks that arrived before a failure."""
    async for chunk in provider.chat(body, target):
        received.append(chunk)


def numbers(meta: ChatChunk | None) -> tuple[int, int, int] | None:
    """The gathered usage's token counts."""
    usage = meta.usage if meta is not None else None
    if usage is None:
        return None
    return (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


def assert_sent(case: ProviderCase, upstream: ReplayServer, scenario: str, *, stream: bool) -> None:
    seen = upstream.last
    assert seen.method == "POST"
    assert seen.path == case.path(case.model, stream)
    for name, value in case.headers.items():
        assert seen.headers.get(name.lower()) == value, f"header {name}"
    assert json.loads(seen.body) == case.request_fixture(scenario)
    if case.check_request is not None:
        case.check_request(seen)


def text_reply(case: ProviderCase) -> Reply:
    return case.reply("text.json")


def stream_reply(case: ProviderCase, name: str = "text", **options: Any) -> Reply:
    return case.reply(case.stream_name(name), **options)


def frames(case: ProviderCase, name: str = "text") -> list[bytes]:
    found = case.frames(case.stream_fixture(name))
    assert len(found) >= 4, "a stream fixture needs several frames to cut"
    return found


# answers ------------------------------------------------------------------------------------


async def test_answers_plain_text_with_usage(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    upstream.queue(text_reply(case))

    chunks = await answer(provider, request("plain"), target)

    choices, meta = gather(chunks)
    assert "".join(choices[0].text) == case.expected.text
    assert choices[0].finish_reason == "stop"
    assert choices[0].role == "assistant"
    assert numbers(meta) == case.expected.usage
    assert_sent(case, upstream, "plain", stream=False)


@pytest.mark.parametrize("scenario", ["multi_turn", "system", "tool_result"])
async def test_translates_the_conversation_to_the_native_request(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    scenario: str,
) -> None:
    if scenario == "tool_result" and not case.tools:
        pytest.skip(f"{case.name} has no tools: see test_a_backend_without_tools_refuses_them")
    upstream.queue(text_reply(case))

    chunks = await answer(provider, request(scenario), target)

    choices, _ = gather(chunks)
    assert "".join(choices[0].text) == case.expected.text
    assert_sent(case, upstream, scenario, stream=False)


@pytest.mark.parametrize(
    ("scenario", "stream"), [("tools", False), ("tools", True), ("tool_result", False)]
)
async def test_a_backend_without_tools_refuses_them(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    scenario: str,
    stream: bool,
) -> None:
    if case.tools:
        pytest.skip(f"{case.name} has tools: the tool tests cover it")

    with pytest.raises(InvalidRequestError):
        await answer(provider, request(scenario, stream=stream), target)

    assert upstream.seen == [], "nothing was sent upstream"


async def test_sends_tools_natively_and_answers_the_tool_call(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    if not case.tools:
        pytest.skip(f"{case.name} has no tools: see test_a_backend_without_tools_refuses_them")
    upstream.queue(case.reply("tool_call.json"))

    chunks = await answer(provider, request("tools"), target)

    choices, meta = gather(chunks)
    assert choices[0].finish_reason == "tool_calls"
    [call] = choices[0].tool_calls.values()
    assert case.tool_call_id_matches(call["id"])
    assert call["name"] == case.expected.tool_name
    assert json.loads(call["arguments"]) == case.expected.tool_arguments
    assert (numbers(meta) or (0, 0, 0))[2] > 0
    assert_sent(case, upstream, "tools", stream=False)


# streams ------------------------------------------------------------------------------------


@pytest.mark.parametrize("piece", [None, 1, 7], ids=["whole", "byte-by-byte", "split-reads"])
async def test_streams_text_then_usage(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    piece: int | None,
) -> None:
    upstream.queue(stream_reply(case, piece=piece))

    chunks = await answer(provider, request("stream"), target)

    choices, meta = gather(chunks)
    assert "".join(choices[0].text) == case.expected.text
    assert sum(1 for c in chunks for d in c.choices if d.text) >= 2, "text arrives in pieces"
    assert choices[0].finish_reason == "stop"
    assert numbers(meta) == case.expected.stream_usage
    assert chunks[-1].usage is not None, "usage comes last"
    assert not chunks[-1].choices, "usage comes alone, as OpenAI sends it"
    assert_sent(case, upstream, "stream", stream=True)


async def test_streams_tool_call_arguments_reassembled(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    if not case.tools:
        pytest.skip(f"{case.name} has no tools: see test_a_backend_without_tools_refuses_them")
    upstream.queue(stream_reply(case, "tool_call"))

    chunks = await answer(provider, request("tools", stream=True), target)

    pieces = [t for c in chunks for d in c.choices for t in d.tool_calls if t.arguments]
    if case.tool_arguments_in_pieces:
        assert len(pieces) >= 2, "the fixture streams the arguments in several deltas"
    else:
        assert len(pieces) == 1, "the backend sends each tool call whole"
    assert {t.index for c in chunks for d in c.choices for t in d.tool_calls} == {0}
    choices, meta = gather(chunks)
    [call] = choices[0].tool_calls.values()
    assert case.tool_call_id_matches(call["id"])
    assert call["name"] == case.expected.tool_name
    assert json.loads(call["arguments"]) == case.expected.tool_arguments
    assert choices[0].finish_reason == "tool_calls"
    assert (numbers(meta) or (0, 0, 0))[2] > 0


async def test_concurrent_calls_each_get_their_own_whole_answer(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    questions = [f"question {i:02}" for i in range(24)]  # none a prefix of another
    upstream.queue(*(stream_reply(case, piece=64) for _ in questions))
    bodies = [
        ChatRequest.model_validate(
            {"model": "m", "messages": [{"role": "user", "content": q}], "stream": True}
        )
        for q in questions
    ]

    answers = await asyncio.gather(*(answer(provider, body, target) for body in bodies))

    for chunks in answers:
        choices, meta = gather(chunks)
        assert "".join(choices[0].text) == case.expected.text
        assert numbers(meta) == case.expected.stream_usage
    assert len(upstream.seen) == len(questions)
    for question in questions:  # each request went out once, whole, with its own question
        assert sum(question.encode() in seen.body for seen in upstream.seen) == 1
    if case.check_request is not None:
        for seen in upstream.seen:
            case.check_request(seen)  # signed each on its own (SigV4 covers the body)


FIELDS_TO_HONOUR = {
    "logprobs": ({"logprobs": True, "top_logprobs": 2}, b"logprobs"),
    "json-mode": ({"response_format": {"type": "json_object"}}, b"json"),
}


@pytest.mark.parametrize("field", list(FIELDS_TO_HONOUR))
async def test_a_field_is_sent_on_or_refused_never_silently_dropped(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    field: str,
) -> None:
    fields, sign_on_the_wire = FIELDS_TO_HONOUR[field]
    upstream.queue(text_reply(case))
    body = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "Hello!"}], **fields}
    )

    refused: InvalidRequestError | None = None
    try:
        await answer(provider, body, target)
    except InvalidRequestError as error:
        refused = error

    if refused is not None:
        assert refused.param in fields
        assert upstream.seen == [], "refused before anything was sent"
    else:
        assert sign_on_the_wire in upstream.last.body.lower()


# upstream errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_rejected_request_is_the_clients_fault_with_the_upstream_message(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    stream: bool,
) -> None:
    upstream.queue(case.reply("error_400.json", status=400))

    with pytest.raises(UpstreamRejectedError) as caught:
        await answer(provider, request("plain", stream=stream), target)

    assert caught.value.upstream_status == 400
    assert case.expected.error_message in caught.value.message
    assert caught.value.retryable is False


async def test_refused_credentials_are_not_retried(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    upstream.queue(case.reply("error_401.json", status=401))

    with pytest.raises(UpstreamError) as caught:
        await answer(provider, request("plain"), target)

    assert type(caught.value) is UpstreamError
    assert caught.value.upstream_status == 401
    assert caught.value.retryable is False


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_rate_limit_carries_retry_after(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    stream: bool,
) -> None:
    upstream.queue(case.reply("error_429.json", status=429, headers={"Retry-After": "7"}))

    with pytest.raises(UpstreamRateLimitError) as caught:
        await answer(provider, request("plain", stream=stream), target)

    assert caught.value.retry_after == 7
    assert caught.value.retryable is True


async def test_server_error_is_retryable(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    upstream.queue(case.reply("error_500.json", status=500))

    with pytest.raises(UpstreamError) as caught:
        await answer(provider, request("plain"), target)

    assert type(caught.value) is UpstreamError
    assert caught.value.upstream_status == 500
    assert caught.value.retryable is True


async def test_no_answer_before_first_byte_deadline_is_a_timeout(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    upstream.queue(case.reply("text.json", delay=2.5))

    with pytest.raises(UpstreamTimeoutError):
        await answer(provider, request("plain"), target)


async def test_stream_that_goes_silent_is_a_timeout(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    first_two = sum(len(f) for f in frames(case)[:2])
    upstream.queue(stream_reply(case, stall_after=first_two))

    with pytest.raises(UpstreamTimeoutError):
        await answer(provider, request("stream"), target)


# truncated and garbage answers --------------------------------------------------------------


@pytest.mark.parametrize("reset", [False, True], ids=["clean-end", "connection-reset"])
async def test_stream_truncated_between_frames_is_an_error(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    reset: bool,
) -> None:
    kept = frames(case)[:-2]  # the answer stops before its final frames
    upstream.queue(Reply(b"".join(kept), content_type=case.stream_content_type, reset=reset))

    with pytest.raises(UpstreamError):
        await answer(provider, request("stream"), target)


@pytest.mark.parametrize("reset", [False, True], ids=["clean-end", "connection-reset"])
async def test_stream_cut_mid_frame_is_an_error(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    reset: bool,
) -> None:
    whole = frames(case)
    cut = whole[2][: len(whole[2]) // 2]
    upstream.queue(
        Reply(b"".join(whole[:2]) + cut, content_type=case.stream_content_type, reset=reset)
    )

    with pytest.raises(UpstreamError):
        await answer(provider, request("stream"), target)


async def test_corrupt_stream_frame_is_an_error(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    whole = frames(case)
    body = b"".join([*whole[:2], case.garbage_frame, *whole[2:]])
    upstream.queue(Reply(body, content_type=case.stream_content_type))

    with pytest.raises(UpstreamError):
        await answer(provider, request("stream"), target)


GARBAGE = {
    "invalid-json": Reply(b'{"id": "x", "choices": [', status=200),
    "json-of-wrong-shape": Reply(b'{"unexpected": ["shape"]}', status=200),
    "json-array": Reply(b"[1, 2, 3]", status=200),
    "html-ok": Reply(HTML_PAGE, status=200, content_type="text/html"),
    "empty-body": Reply(b"", status=200),
}


@pytest.mark.parametrize("garbage", list(GARBAGE), ids=list(GARBAGE))
async def test_garbage_answer_is_a_clean_upstream_error(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    garbage: str,
) -> None:
    upstream.queue(GARBAGE[garbage])

    with pytest.raises(UpstreamError) as caught:
        await answer(provider, request("plain"), target)

    assert not isinstance(caught.value, UpstreamRejectedError), "not the client's fault"


async def test_html_error_page_is_a_retryable_upstream_error(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    upstream.queue(Reply(HTML_PAGE, status=502, content_type="text/html"))

    with pytest.raises(UpstreamError) as caught:
        await answer(provider, request("plain", stream=True), target)

    assert caught.value.upstream_status == 502
    assert caught.value.retryable is True


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
async def test_stream_request_answered_with_another_content_type_is_an_error(
    case: ProviderCase,
    provider: ChatProvider,
    upstream: ReplayServer,
    target: Target,
    content_type: str,
) -> None:
    body = case.fixture("text.json") if content_type == "application/json" else HTML_PAGE
    upstream.queue(Reply(body, content_type=content_type))

    with pytest.raises(UpstreamError):
        await answer(provider, request("stream"), target)


async def test_error_event_mid_stream_is_an_error(
    case: ProviderCase, provider: ChatProvider, upstream: ReplayServer, target: Target
) -> None:
    name = case.stream_name("stream_error")
    if not (FIXTURES / case.name / name).exists():
        pytest.skip(f"{case.name} documents no in-stream error event ({name})")
    upstream.queue(case.reply(name))
    received: list[ChatChunk] = []

    with pytest.raises(UpstreamError):
        await answer_into(received, provider, request("stream"), target)

    assert received, "the error comes after the answer had started"
