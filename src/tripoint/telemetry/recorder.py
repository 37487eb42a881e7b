"""The `record` stage: completes every call's Record, whatever the outcome, and hands it on.

Outermost in the pipeline, it sees the chunks the client gets and every error raised inside
(auth 401, limits 429, guardrail blocks, upstream failures) or thrown in by a client that
went away; `try/finally` guarantees that each sink receives the finished Record exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from tripoint.errors import TripointError
from tripoint.pipeline.call import Call, Record
from tripoint.pipeline.sink import RecordSink
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.schema.chunks import ChatChunk, Chunk
from tripoint.schema.requests import ChatRequest, CompletionRequest
from tripoint.telemetry.genai import output_text
from tripoint.telemetry.spans import OpenSpan
from tripoint.telemetry.tracing import Tracing, first_step

log = logging.getLogger("tripoint.telemetry")

CLIENT_CLOSED = 499  # nginx's status for "the client closed the request"


class RecordStage:
    def __init__(self, sinks: Sequence[RecordSink], tracing: Tracing | None = None) -> None:
        self._sinks = tuple(sinks)
        self._tracing = tracing

    async def __call__(self, call: Call, call_next: Next) -> ChunkStream:
        record = call.record
        request = call.request
        record.stream = isinstance(request, ChatRequest | CompletionRequest) and request.stream
        tracing = self._tracing
        span = tracing.start_call(call) if tracing is not None else None
        inner = call_next(call)
        captured: list[ChatChunk] | None = [] if tracing and tracing.capture_content else None
        reasons: list[str] = []
        try:
            # The call's span is current for the first step only: every upstream request is
            # sent by then, and later steps cost no context switching.
            chunk = await first_step(span, inner)
            while chunk is not None:
                _observe(record, chunk, reasons)
                if captured is not None and isinstance(chunk, ChatChunk):
                    captured.append(chunk)
                yield chunk
                chunk = await anext(inner, None)
        except TripointError as exc:
            _fail(record, exc.status, exc.type)
            raise
        except (GeneratorExit, asyncio.CancelledError):
            _fail(record, CLIENT_CLOSED, "client_disconnected")
            raise
        except Exception:
            _fail(record, 500, "server_error")
            raise
        finally:
            record.finished_at = time.perf_counter()
            record.finish_reasons = tuple(reasons)
            try:
                await inner.aclose()
            finally:
                if tracing is not None and span is not None:
                    self._end_span(tracing, span, record, captured)
                self.finish(record)

    def _end_span(
        self, tracing: Tracing, span: OpenSpan, record: Record, captured: list[ChatChunk] | None
    ) -> None:
        try:
            tracing.end_call(span, record, output_text(captured) if captured is not None else None)
        except Exception:  # telemetry must never fail a call, nor keep its record from sinks
            log.exception("ending the call span failed", extra={"request_id": record.request_id})

    def finish(self, record: Record) -> None:
        """Hand a finished Record to every sink; one failing sink never stops the others."""
        for sink in self._sinks:
            try:
                sink.write(record)
            except Exception:  # telemetry must never fail a call
                log.exception(
                    "record sink failed", extra={"sink": sink.name, "request_id": record.request_id}
                )


def _observe(record: Record, chunk: Chunk, reasons: list[str]) -> None:
    if record.first_chunk_at is None:
        record.first_chunk_at = time.perf_counter()
    if chunk.usage is not None:
        record.usage = chunk.usage
    if isinstance(chunk, ChatChunk):
        reasons.extend(c.finish_reason for c in chunk.choices if c.finish_reason)


def _fail(record: Record, status: int, error_type: str) -> None:
    record.status = status
    record.error_type = error_type
