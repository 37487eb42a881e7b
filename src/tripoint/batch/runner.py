"""Run batches: every line through the same pipeline as an interactive call, exactly once.

The runner is a gateway component. It picks up active batches (also those a crash left
behind), skips lines that already have a result, runs the rest with bounded concurrency, and
finalises output and error files. A result row per (batch, custom_id) is the commit point, so a
kill at any moment and a restart yield exactly one output line per custom_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from tripoint.batch import lines
from tripoint.batch.records import BatchJob, Counts, LineResult, StoredFile, new_file_id, now
from tripoint.batch.store import BatchStore, FileStore
from tripoint.errors import TripointError
from tripoint.pipeline.call import ANONYMOUS, Call, Principal, Priority
from tripoint.pipeline.stage import ChunkStream
from tripoint.providers.priority import BACKGROUND
from tripoint.schema import render
from tripoint.schema.chunks import ChatChunk, EmbeddingResult
from tripoint.schema.json import JSONObject

log = logging.getLogger("tripoint.batch")


class Pipeline(Protocol):
    """What the runner needs of the gateway (kept as a protocol: stages sit below it)."""

    def call(
        self,
        request: lines.Request,
        *,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        principal: Principal = ANONYMOUS,
    ) -> Call: ...

    def run(self, call: Call) -> ChunkStream: ...


class BatchRunner:
    name = "batches"

    def __init__(
        self,
        files: FileStore,
        batches: BatchStore,
        *,
        concurrency: int = 4,
        poll: float = 1.0,
        claim_ttl: float = 30.0,
    ) -> None:
        self.files = files
        self.batches = batches
        self._concurrency = concurrency
        self._poll = poll  # also finds batches other processes created or cancelled
        self._pipeline: Pipeline | None = None
        self._claim_ttl = claim_ttl  # a killed worker's batches wait this long for another
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cancelled: set[str] = set()
        self._checked: dict[str, float] = {}  # batch id -> when its status was last read

    def bind(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="batch-runner")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.batches.close()

    async def ready(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        self._wake.set()

    def cancel(self, batch_id: str) -> None:
        self._cancelled.add(batch_id)
        self._wake.set()

    async def _serve(self) -> None:
        while True:
            self._wake.clear()
            for job in await self.batches.active():
                if not await self.batches.claim(job.id, self.worker, self._claim_ttl):
                    continue  # another worker (gateway or batch-worker process) has it
                renewal = asyncio.create_task(self._renew(job.id))
                try:
                    await self.process(job)
                except Exception:  # the runner's boundary: a store or disk failure is logged
                    log.exception("batch pass failed", extra={"batch": job.id})  # and retried
                finally:
                    renewal.cancel()
                    await self.batches.release(job.id, self.worker)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def _renew(self, batch_id: str) -> None:
        while True:
            await asyncio.sleep(self._claim_ttl / 3)
            await self.batches.claim(batch_id, self.worker, self._claim_ttl)

    async def process(self, job: BatchJob) -> BatchJob:
        """Take one batch as far as it goes: to completed, cancelled or failed."""
        content = await self.files.content(job.input_file_id, job.owner)
        if content is None:
            return await self._fail(job, "the input file no longer exists")
        raw = [line for line in content.splitlines() if line.strip()]
        parsed = [lines.parse(line, number, job.endpoint) for number, line in enumerate(raw)]
        ids = [p.custom_id for p in parsed]
        if len(set(ids)) != len(ids):
            return await self._fail(job, "custom_id values must be unique within a batch")
        if job.status == "validating":
            job = await self._move(job, "in_progress", counts=Counts(total=len(parsed)))
        if job.status == "in_progress":
            await self._run_lines(job, parsed)
        if job.status == "validating":
            job = replace(job, counts=Counts(total=len(parsed)))  # cancelled before it began
        return await self._finish(job)

    async def _run_lines(self, job: BatchJob, parsed: list[lines.Line | lines.BadLine]) -> None:
        done = await self.batches.done(job.id)
        pending = iter([(n, p) for n, p in enumerate(parsed) if p.custom_id not in done])

        async def worker() -> None:
            for number, line in pending:
                if await self._is_cancelled(job.id):
                    return
                await self.batches.record(
                    job.id, await self._execute(number, line, principal_of(job))
                )

        await asyncio.gather(*(worker() for _ in range(self._concurrency)))

    async def _is_cancelled(self, batch_id: str) -> bool:
        """A cancel through this process is seen at once; one through another process (or
        the store) within `poll` seconds, without a store read per line."""
        if batch_id in self._cancelled:
            return True
        checked = self._checked.get(batch_id, 0.0)
        if time.monotonic() - checked < self._poll:
            return False
        self._checked[batch_id] = time.monotonic()
        current = await self.batches.get(batch_id)
        return current is None or current.status == "cancelling"

    async def _execute(
        self, number: int, line: lines.Line | lines.BadLine, principal: Principal
    ) -> LineResult:
        if self._pipeline is None:
            raise RuntimeError("the batch runner is not bound to a gateway")
        return await execute(self._pipeline, number, line, principal)

    async def _finish(self, job: BatchJob) -> BatchJob:
        current = await self.batches.get(job.id) or job
        cancelled = current.status == "cancelling" or job.id in self._cancelled
        results = await self.batches.results(job.id)
        ok = [r.body for r in results if r.ok]
        failed = [r.body for r in results if not r.ok]
        output = await self._write(current, ok, "output") if ok else None
        errors = await self._write(current, failed, "error") if failed else None
        counts = Counts(current.counts.total, len(ok), len(failed))
        self._cancelled.discard(job.id)
        self._checked.pop(job.id, None)
        return await self._move(
            current,
            "cancelled" if cancelled else "completed",
            counts=counts,
            output_file_id=output,
            error_file_id=errors,
        )

    async def _write(self, job: BatchJob, rows: list[bytes], kind: str) -> str:
        content = b"\n".join(rows) + b"\n"
        stored = StoredFile(
            new_file_id(), job.owner, "batch_output", f"{job.id}_{kind}.jsonl", len(content)
        )
        await self.files.put(stored, content)
        return stored.id

    async def _fail(self, job: BatchJob, why: str) -> BatchJob:
        return await self._move(job, "failed", errors=(why,))

    async def _move(self, job: BatchJob, status: str, **changes: object) -> BatchJob:
        moved = replace(job, status=status, times={**job.times, status: now()}, **changes)  # type: ignore[arg-type]
        if await self.batches.save(moved, expect=job.status):
            return moved
        # cancelled meanwhile: the next pass picks the batch up in its new state
        return await self.batches.get(job.id) or job


def principal_of(job: BatchJob) -> Principal:
    """The submitter, as recorded when the batch was created (anonymous on an open gateway)."""
    known = job.submitter
    if not known.get("id"):
        return ANONYMOUS
    models = known.get("models")
    return Principal(
        id=str(known["id"]),
        team=_opt(known.get("team")),
        team_name=_opt(known.get("team_name")),
        role=str(known.get("role", "member")),
        kind="batch",
        models=None if not isinstance(models, list) else frozenset(str(m) for m in models),
        key_id=_opt(known.get("key_id")),
    )


def snapshot(principal: Principal) -> dict[str, object]:
    return {
        "id": principal.id,
        "team": principal.team,
        "team_name": principal.team_name,
        "role": principal.role,
        "key_id": principal.key_id,
        "models": None if principal.models is None else sorted(principal.models),
    }


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


async def execute(
    pipeline: Pipeline,
    number: int,
    line: lines.Line | lines.BadLine,
    principal: Principal = ANONYMOUS,
) -> LineResult:
    """One line through the pipeline, as an interactive call; its outcome as an output line."""
    if isinstance(line, lines.BadLine):
        return LineResult(
            line.custom_id, number, False, lines.error_line(line.custom_id, line.code, line.message)
        )
    BACKGROUND.set(True)  # this task's calls yield to interactive traffic on shared engines
    try:
        call = replace(pipeline.call(line.request, principal=principal), priority=Priority.BATCH)
        body = await _answer(call, pipeline.run(call))
    except TripointError as exc:
        error: JSONObject = {
            "error": {
                "message": exc.message,
                "type": exc.type,
                "param": exc.param,
                "code": exc.code,
            }
        }
        code = exc.code or exc.type
        failed = lines.error_line(line.custom_id, code, exc.message, status=exc.status, body=error)
        return LineResult(line.custom_id, number, False, failed)
    done = lines.output_line(line.custom_id, call.request_id, body)
    return LineResult(line.custom_id, number, True, done)


async def _answer(call: Call, chunks: ChunkStream) -> JSONObject:
    try:
        gathered = [chunk async for chunk in chunks]
    finally:
        await chunks.aclose()
    ident = render.Identity(id=call.request_id, model=call.model)
    embedding = next((c for c in gathered if isinstance(c, EmbeddingResult)), None)
    if embedding is not None:
        return render.embedding_response_json(embedding, ident)
    whole = [c for c in gathered if isinstance(c, ChatChunk)]
    if call.operation.value == "chat":
        return render.chat_response_json(whole, replace(ident, id=f"chatcmpl-{call.request_id}"))
    return render.completion_response_json(whole, replace(ident, id=f"cmpl-{call.request_id}"))
