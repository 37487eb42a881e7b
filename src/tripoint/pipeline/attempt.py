"""Time one upstream attempt on the call's Record: when it started, answered and finished."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tripoint.errors import TripointError
from tripoint.pipeline.call import Attempt, Call
from tripoint.pipeline.stage import ChunkStream
from tripoint.providers.target import Target

# The router hands each attempt's chunk stream through one of these; telemetry adds a span.
AttemptWrapper = Callable[[Call, Target, ChunkStream], ChunkStream]


def begin_attempt(call: Call, target: Target) -> Attempt:
    attempt = Attempt(target=target, started=time.perf_counter())
    call.record.upstream.append(attempt)
    return attempt


def error_type_of(exc: BaseException) -> str:
    """How a failed attempt is recorded: its OpenAI error type, or why it stopped."""
    if isinstance(exc, TripointError):
        return exc.type
    if isinstance(exc, GeneratorExit | asyncio.CancelledError):
        return "cancelled"
    return "server_error"


async def timed_attempt(call: Call, target: Target, stream: ChunkStream) -> ChunkStream:
    """Record an Attempt for `stream` on the call's Record, whatever its outcome."""
    attempt = begin_attempt(call, target)
    try:
        async for chunk in stream:
            if attempt.first_chunk_at is None:
                attempt.first_chunk_at = time.perf_counter()
            yield chunk
    except BaseException as exc:
        attempt.error_type = error_type_of(exc)
        raise
    finally:
        attempt.finished_at = time.perf_counter()
        await stream.aclose()
