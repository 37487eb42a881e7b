"""The `record` stage: completes every call's Record whatever the outcome, then hands it to
the record sinks (ledger, metrics, logs). Outermost, so it sees every error raised inside."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from tripoint.errors import TripointError
from tripoint.pipeline.call import Call
from tripoint.pipeline.sink import RecordSink
from tripoint.pipeline.stage import ChunkStream, Next

log = logging.getLogger("tripoint.pipeline")

CLIENT_CLOSED = 499


class RecordStage:
    def __init__(self, sinks: Sequence[RecordSink]) -> None:
        self._sinks = tuple(sinks)

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        record = call.record
        try:
            async for chunk in call_next(call):
                if record.first_chunk_at is None:
                    record.first_chunk_at = time.perf_counter()
                if chunk.usage is not None:
                    record.usage = chunk.usage
                yield chunk
        except TripointError as exc:
            record.status, record.error_type = exc.status, exc.type
            raise
        except (GeneratorExit, asyncio.CancelledError):
            record.status, record.error_type = CLIENT_CLOSED, "client_closed_request"
            raise
        except Exception:
            record.status, record.error_type = 500, "server_error"
            raise
        finally:
            record.finished_at = time.perf_counter()
            for sink in self._sinks:
                try:
                    sink.write(record)
                except Exception:  # a failing sink must never fail the call or the others
                    log.exception("record sink failed", extra={"sink": sink.name})
