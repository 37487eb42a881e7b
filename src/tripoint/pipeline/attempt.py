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


async def timed_attempt(call: Call, target: Target, stream: ChunkStream) -> ChunkStream:
    """Record an Attempt for `stream` on the call's Record, whatever its outcome."""
    attempt = Attempt(target=target, started=time.perf_counter())
    call.record.upstream.append(attempt)
    try:
        async for chunk in stream:
            if attempt.first_chunk_at is None:
                attempt.first_chunk_at = time.perf_counter()
            yield chunk
    except TripointError as exc:
        attempt.error_type = exc.type
        raise
    except (GeneratorExit, asyncio.CancelledError):
        attempt.error_type = "cancelled"
        raise
    except Exception:
        attempt.error_type = "server_error"
        raise
    finally:
        attempt.finished_at = time.perf_counter()
        await stream.aclose()
