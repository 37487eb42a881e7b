"""Write captures off the hot path: redact, cut to size, insert in batches; delete expired rows.

`put` only queues (the call is already answered). A background task flushes every `interval`
seconds or as soon as `batch` captures wait: it redacts them on its own thread, then inserts
them in one transaction. A failed insert keeps the redacted rows and retries; a capture whose
redaction fails is dropped, never stored raw. Closing (SIGTERM) flushes everything queued; a
SIGKILL loses at most what was queued since the last flush. Past `max_pending` queued (the
database away for long), new captures are dropped and counted rather than growing memory.

Nothing here logs, counts or traces text: only how many captures were written or dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, insert

from tripoint.capture.tables import ContentRow
from tripoint.capture.transcript import Capture, Piece, document
from tripoint.errors import TripointError
from tripoint.storage.database import Database
from tripoint.storage.final_flush import stop_and_flush

log = logging.getLogger("tripoint.capture")


class Redactor(Protocol):
    """Replaces sensitive values in texts; sync and thread-safe (it runs on a worker thread)."""

    def redact(self, texts: Sequence[str]) -> list[str]: ...


class ContentWriter:
    """A gateway component and the capture stage's sink."""

    name = "capture"

    def __init__(
        self,
        database: Database,
        redactor: Redactor,
        retention: Mapping[str, int],
        *,
        max_pending: int = 10_000,
        interval: float = 0.5,
        batch: int = 100,
        sweep_every: float = 300.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._redactor = redactor
        self._retention = dict(retention)  # team name -> days, as configured now
        self._max_pending = max_pending
        self._interval = interval
        self._batch = batch
        self._sweep_every = sweep_every
        self._now = now
        self._queue: deque[Capture] = deque()
        self._ready: list[dict[str, Any]] = []  # redacted, not yet inserted
        self._wake = asyncio.Event()
        self._stopping = False  # close() asked the loop to end after its current batch
        self._task: asyncio.Task[None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.written = 0
        self.dropped = 0  # over max_pending, or redaction failed

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._ready)

    def put(self, capture: Capture) -> None:
        if len(self._queue) >= self._max_pending:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("capture queue full; captures dropped", extra={"dropped": self.dropped})
            return
        self._queue.append(capture)
        if len(self._queue) >= self._batch:
            self._wake.set()

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="capture")
        self._task = asyncio.create_task(self._run(), name="capture")

    async def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    def _stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        if not await stop_and_flush(self._task, self._stop, self.flush):
            log.error("captures could not be written at shutdown", extra={"pending": self.pending})
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    async def flush(self) -> None:
        while self._queue or self._ready:
            if not self._ready:
                count = min(len(self._queue), self._batch)
                captures = [self._queue[i] for i in range(count)]
                self._ready = await self._redacted(captures)
                for _ in range(count):
                    self._queue.popleft()
            if self._ready:
                async with self._database.session() as session:
                    await session.execute(insert(ContentRow), self._ready)
                self.written += len(self._ready)
                self._ready = []

    async def sweep(self, now: datetime | None = None) -> int:
        """Delete rows past their expiry, and rows older than their team's retention now."""
        at = now or self._now()
        deleted = 0
        async with self._database.session() as session:
            result = await session.execute(delete(ContentRow).where(ContentRow.expires_at <= at))
            deleted += result.rowcount or 0  # type: ignore[attr-defined]
            for team, days in self._retention.items():
                result = await session.execute(
                    delete(ContentRow).where(
                        ContentRow.team_name == team,
                        ContentRow.created_at < at - timedelta(days=days),
                    )
                )
                deleted += result.rowcount or 0  # type: ignore[attr-defined]
        return deleted

    async def _run(self) -> None:
        swept_at = -self._sweep_every
        loop = asyncio.get_running_loop()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                if loop.time() - swept_at >= self._sweep_every:
                    await self.sweep()
                    swept_at = loop.time()
            except TripointError:
                log.warning("capture flush failed; will retry", extra={"pending": self.pending})
                await asyncio.sleep(self._interval)

    async def _redacted(self, captures: list[Capture]) -> list[dict[str, Any]]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="capture")
        loop = asyncio.get_running_loop()
        rows, failed = await loop.run_in_executor(self._pool, self._rows, captures)
        if failed:
            self.dropped += failed
            log.warning("captures dropped: redaction failed", extra={"dropped": failed})
        return rows

    def _rows(self, captures: list[Capture]) -> tuple[list[dict[str, Any]], int]:
        rows, failed = [], 0
        for capture in captures:
            try:
                pieces = capture.pieces()
                texts = self._redactor.redact([p.text for p in pieces])
            except Exception:  # noqa: BLE001 -- whatever failed, the text was not redacted
                failed += 1
                continue
            redacted = [replace(p, text=t) for p, t in zip(pieces, texts, strict=True)]
            rows.append(_row(capture, redacted))
        return rows, failed


def _row(capture: Capture, pieces: list[Piece]) -> dict[str, Any]:
    request, response, truncated = document(pieces, capture.finish, capture.max_bytes)
    return {
        "request_id": capture.request_id,
        "created_at": capture.created_at,
        "expires_at": capture.expires_at,
        "team_id": capture.team_id,
        "team_name": capture.team_name,
        "model": capture.model,
        "operation": capture.operation,
        "data_class": capture.data_class,
        "request": request,
        "response": response,
        "complete": capture.complete,
        "truncated": truncated,
    }
