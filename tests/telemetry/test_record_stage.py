"""The record stage finishes every Record exactly once, whatever the outcome."""

from __future__ import annotations

import asyncio
import time

import pytest

from tripoint.errors import AuthenticationError, RateLimitError, UpstreamError
from tripoint.pipeline.call import Attempt, Call, Operation, Record
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.providers.target import BackendFacts, Target
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Usage
from tripoint.schema.requests import ChatRequest
from tripoint.telemetry.recorder import RecordStage

TARGET = Target(BackendFacts("fake", "openai", "self_hosted", None, False, False, ()), "m")
REQUEST = ChatRequest.model_validate(
    {"model": "chat-default", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)


class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.records: list[Record] = []

    def write(self, record: Record) -> None:
        self.records.append(record)


class Broken:
    name = "broken"

    def write(self, record: Record) -> None:
        raise RuntimeError("sink down")


def new_call() -> Call:
    record = Record(request_id="req-1", model="chat-default", operation=Operation.CHAT)
    return Call(request=REQUEST, model="chat-default", targets=(TARGET,), record=record)


def answering(*chunks: ChatChunk, then: BaseException | None = None) -> Next:
    async def terminal(call: Call) -> ChunkStream:
        call.record.target = TARGET
        for chunk in chunks:
            await asyncio.sleep(0)
            yield chunk
        if then is not None:
            raise then

    return terminal


WORD = ChatChunk(choices=(ChoiceDelta(text="hi"),))
LAST = ChatChunk(
    choices=(ChoiceDelta(finish_reason="stop"),),
    usage=Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
)


async def test_completes_the_record_of_a_successful_stream() -> None:
    sink = Collect()
    stage = RecordStage([sink])
    call = new_call()

    chunks = [c async for c in stage(call, answering(WORD, LAST))]

    assert len(chunks) == 2
    (record,) = sink.records
    assert record.status == 200
    assert record.error_type is None
    assert record.stream
    assert record.usage == LAST.usage
    assert record.finish_reasons == ("stop",)
    assert record.first_chunk_at is not None
    assert record.finished_at is not None
    assert record.started <= record.first_chunk_at <= record.finished_at


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (AuthenticationError("no key"), 401, "authentication_error"),
        (RateLimitError("slow down"), 429, "rate_limit_exceeded"),
        (UpstreamError("down"), 502, "upstream_error"),
        (RuntimeError("bug"), 500, "server_error"),
    ],
)
async def test_records_the_status_of_an_error_raised_inside(
    error: Exception, status: int, error_type: str
) -> None:
    sink = Collect()
    stage = RecordStage([sink])

    with pytest.raises(type(error)):
        [c async for c in stage(new_call(), answering(then=error))]

    (record,) = sink.records
    assert (record.status, record.error_type) == (status, error_type)
    assert record.finished_at is not None


async def test_records_a_failure_after_the_stream_started() -> None:
    sink = Collect()
    stage = RecordStage([sink])

    with pytest.raises(UpstreamError):
        [c async for c in stage(new_call(), answering(WORD, then=UpstreamError("cut")))]

    (record,) = sink.records
    assert record.status == 502
    assert record.first_chunk_at is not None


async def test_records_a_client_that_went_away_mid_stream() -> None:
    sink = Collect()
    stream = RecordStage([sink])(new_call(), answering(WORD, WORD, LAST))

    await anext(stream)
    await stream.aclose()

    (record,) = sink.records
    assert (record.status, record.error_type) == (499, "client_disconnected")
    assert record.usage is None  # the answer never finished


async def test_records_a_call_cancelled_while_waiting_for_the_upstream() -> None:
    sink = Collect()

    async def silent(call: Call) -> ChunkStream:
        await asyncio.sleep(3600)
        yield WORD

    stream = RecordStage([sink])(new_call(), silent)
    task = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    (record,) = sink.records
    assert record.status == 499


async def test_a_failing_sink_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    sink = Collect()
    stage = RecordStage([Broken(), sink])

    chunks = [c async for c in stage(new_call(), answering(LAST))]

    assert len(chunks) == 1
    assert len(sink.records) == 1
    assert any(r.getMessage() == "record sink failed" for r in caplog.records)


def test_counts_retries_and_fallbacks_from_the_attempts() -> None:
    other = Target(BackendFacts("other", "openai", "saas", None, False, False, ()), "m")
    record = Record(request_id="r", model="m", operation=Operation.CHAT)
    now = time.perf_counter()

    record.upstream = [
        Attempt(TARGET, now, finished_at=now + 1),
        Attempt(TARGET, now + 1, finished_at=now + 2),
        Attempt(other, now + 2, finished_at=now + 3),
    ]

    assert (record.retries, record.fallbacks) == (1, 1)
    assert record.upstream_seconds == pytest.approx(3)
