"""Write call records in batches, off the hot path, and never drop one.

`write` only queues (the call is already answered); a background task flushes every
`interval` seconds or as soon as `batch` records wait, in one transaction that also moves the
stream's head. A failed flush keeps the records and retries. Closing (SIGTERM: uvicorn's
graceful shutdown closes the gateway) flushes everything queued. A SIGKILL loses at most the
records queued since the last flush: those of the last `interval` seconds (0.5 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update

from tripoint.errors import TripointError
from tripoint.ledger.chain import GENESIS, link
from tripoint.ledger.tables import CallRow, HeadRow
from tripoint.limits.prices import nano_usd
from tripoint.pipeline.call import Record
from tripoint.storage.database import Database
from tripoint.storage.final_flush import stop_and_flush

log = logging.getLogger("tripoint.ledger")


def row_of(record: Record) -> dict[str, Any]:
    """A finished Record as a ledger row (without its place in the chain)."""
    target = record.target
    usage = record.usage
    finished = record.finished_at or record.started
    principal = record.principal
    return {
        "request_id": record.request_id,
        "created_at": datetime.fromtimestamp(record.wall_started, UTC),
        "principal_id": principal.id,
        "key_id": principal.key_id,
        "team_id": principal.team,
        "team_name": principal.team_name,
        "model": record.model,
        "operation": record.operation.value,
        "backend": target.backend.name if target else None,
        "target_model": target.model if target else None,
        "pattern": target.backend.pattern if target else None,
        "region": target.backend.region if target else None,
        "data_class": record.data_class,
        "status": record.status,
        "error_type": record.error_type,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cost_nano": nano_usd(record.cost) if record.cost is not None else 0,
        "latency_ms": round((finished - record.started) * 1000, 3),
        "ttft_ms": round((record.first_chunk_at - record.started) * 1000, 3)
        if record.first_chunk_at is not None
        else None,
        "attempts": record.attempts,
        "cache_hit": bool(record.cache_hit),
        "detail": _detail(record),
    }


def _detail(record: Record) -> dict[str, Any]:
    return {
        "policies": [
            {
                "policy": p.policy,
                "effect": p.effect,
                "excluded": list(p.excluded),
                "dry_run": p.dry_run,
                "rerouted_to": p.rerouted_to,
            }
            for p in record.policies
        ],
        "guardrails": [  # finding types and counts only, never the matched text
            {
                "guardrail": g.guardrail,
                "direction": g.direction,
                "outcome": g.outcome,
                "findings": dict(g.findings),
                "would": g.would,
            }
            for g in record.guardrails
        ],
        "retries": record.retries,
        "fallbacks": record.fallbacks,
    }


class CallLedger:
    """A gateway component and a record sink."""

    name = "ledger"

    def __init__(self, database: Database, *, interval: float = 0.5, batch: int = 500) -> None:
        self._database = database
        self._interval = interval
        self._batch = batch
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._stopping = False  # close() asked the loop to end after its current batch
        self._task: asyncio.Task[None] | None = None
        self.stream = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._head = GENESIS
        self._started = False

    @property
    def database(self) -> Database:
        return self._database

    @property
    def pending(self) -> int:
        return len(self._queue)

    def write(self, record: Record) -> None:
        self._queue.append(row_of(record))
        if len(self._queue) >= self._batch:
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger")
        self._started = True

    async def ready(self) -> bool:
        return self._started

    def _stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        if not await stop_and_flush(self._task, self._stop, self.flush):
            log.error(
                "ledger records could not be written at shutdown",
                extra={"pending": len(self._queue)},
            )

    async def flush(self) -> None:
        while self._queue:
            await self._write(min(len(self._queue), self._batch))

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except TripointError:
                log.warning("ledger flush failed; will retry", extra={"pending": self.pending})
                await asyncio.sleep(self._interval)

    async def _write(self, count: int) -> None:
        rows = [self._queue[i] for i in range(count)]
        seq, head = self._seq, self._head
        linked = []
        for row in rows:
            seq += 1
            values = {**row, "stream": self.stream, "seq": seq, "prev_hash": head}
            head = values["hash"] = link(head, values)
            linked.append(values)
        async with self._database.session() as session:
            await session.execute(insert(CallRow), linked)
            if self._seq == 0:
                await session.execute(
                    insert(HeadRow).values(stream=self.stream, seq=seq, hash=head)
                )
            else:
                await session.execute(
                    update(HeadRow).where(HeadRow.stream == self.stream).values(seq=seq, hash=head)
                )
        for _ in range(count):  # only now are they durable
            self._queue.popleft()
        self._seq, self._head = seq, head
