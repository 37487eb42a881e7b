"""Run batches: every line through the same pipeline as an interactive call, exactly once.

The runner is a gateway component (also the whole of `tripoint batch-worker`). It picks up
active batches (also those a crash left behind), stores their lines, leases them one at a time
with bounded concurrency, and once every line has its result writes the output and error files.
Leases let any number of runners in any number of processes share one batch; a result written
under the line's latest lease is the commit point, so a kill at any moment and a restart yield
exactly one output line per custom_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import replace

from tripoint.batch import lines
from tripoint.batch.delegation import Delegate, chosen, outcome, upstream_file
from tripoint.batch.execution import Pipeline, execute, principal_of
from tripoint.batch.records import (
    BatchJob,
    Counts,
    InputLine,
    Lease,
    LineResult,
    StoredFile,
    now,
    output_file_id,
)
from tripoint.batch.store import BatchStore, FileStore
from tripoint.errors import TripointError, UpstreamError
from tripoint.pipeline.call import Principal

log = logging.getLogger("tripoint.batch")


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
        delegates: Mapping[str, Delegate] | None = None,
        delegate_poll: float = 30.0,
    ) -> None:
        self.files = files
        self.batches = batches
        self._concurrency = concurrency
        self._poll = poll  # also finds batches other processes created, cancelled or left
        self._pipeline: Pipeline | None = None
        self._claim_ttl = claim_ttl  # a killed worker's lines wait this long for another
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cancelled: set[str] = set()
        self._checked: dict[str, float] = {}  # batch id -> when its status was last read
        self._held: dict[tuple[str, int], Lease] = {}  # lines running here, renewed
        self._claimed: set[str] = set()  # batches this runner validates or finishes now
        self._delegates = dict(delegates or {})  # public model -> its native Batch API
        self._delegate_poll = delegate_poll
        self._polled: dict[str, float] = {}  # delegated batch id -> when it was last read
        self._cancel_sent: set[str] = set()  # delegated batches whose cancel was passed on

    def bind(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="batch-runner")

    async def close(self) -> None:
        held = list(self._held.values())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._give_back(held)  # (if `_run_lines` could not, being cancelled itself)
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
            try:
                jobs = await self.batches.active()
            except TripointError:  # the store is away: tried again at the next poll
                log.warning("could not list active batches")
                jobs = []
            for job in jobs:
                try:
                    await self.process(job)
                except Exception:  # the runner's boundary: a store or disk failure is logged
                    log.exception("batch pass failed", extra={"batch": job.id})  # and retried
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def process(self, job: BatchJob) -> BatchJob:
        """Take one batch as far as this runner can: validate it, run the lines no other
        worker holds, and finish it once every line has its result."""
        if job.status == "validating":
            job = await self._begin(job)
        if job.remote:
            return await self._follow(job)
        if job.status == "in_progress":
            await self._run_lines(job)
        return await self._settle(job)

    async def _begin(self, job: BatchJob) -> BatchJob:
        """Validate the input file and store its lines (one worker does it: the claim)."""
        if not await self._claim(job.id):
            return job
        try:
            content = await self.files.content(job.input_file_id, job.owner)
            if content is None:
                return await self._fail(job, "the input file no longer exists")
            raw = [line for line in content.splitlines() if line.strip()]
            parsed = [lines.parse(line, number, job.endpoint) for number, line in enumerate(raw)]
            rows = [
                InputLine(p.custom_id, n, line)
                for n, (p, line) in enumerate(zip(parsed, raw, strict=True))
            ]
            if len({r.custom_id for r in rows}) != len(rows):
                return await self._fail(job, "custom_id values must be unique within a batch")
            handed = chosen(self._delegates, parsed, principal_of(job))
            if handed is not None:
                return await self._hand_over(job, raw, *handed)
            started = _moved(job, "in_progress", counts=Counts(total=len(rows)))
            if await self.batches.begin(started, rows):
                return started
            return await self.batches.get(job.id) or job  # cancelled meanwhile
        finally:
            await self._release(job.id)

    async def _hand_over(
        self, job: BatchJob, raw: list[bytes], model: str, delegate: Delegate
    ) -> BatchJob:
        """Send the whole batch to the model's native Batch API; the runner then follows it.
        (A worker killed between the two steps sends it again: the first copy is orphaned.)"""
        remote_id = await delegate.client.submit(
            upstream_file(raw, delegate.model), job.endpoint, {"tripoint_batch": job.id}
        )
        started = _moved(
            job,
            "in_progress",
            counts=Counts(total=len(raw)),
            remote={"model": model, "batch_id": remote_id},
        )
        if await self.batches.save(started, expect="validating"):
            return started
        await delegate.client.cancel(remote_id)  # cancelled here meanwhile
        return await self.batches.get(job.id) or job

    async def _follow(self, job: BatchJob) -> BatchJob:
        """Read a delegated batch's remote status (every `delegate_poll` seconds), pass a cancel
        on, and once it is final write its output and error files here."""
        delegate = self._delegates.get(job.remote["model"])
        if delegate is None:
            return await self._fail(job, "its model no longer delegates batches")
        if time.monotonic() - self._polled.get(job.id, -math.inf) < self._delegate_poll:
            return job
        if not await self._claim(job.id):
            return job
        try:
            self._polled[job.id] = time.monotonic()
            if job.status == "cancelling" and job.id not in self._cancel_sent:
                await self._cancel_remote(job, delegate)
            remote = await delegate.client.status(job.remote["batch_id"])
            result = await outcome(delegate, remote, job.remote["model"])
            if result is None:
                return job
            self._polled.pop(job.id, None)
            self._cancel_sent.discard(job.id)
            output = await self._write(job, result.output, "output") if result.output else None
            errors = await self._write(job, result.errors, "error") if result.errors else None
            return await self._move(
                job,
                result.status,
                counts=result.counts,
                output_file_id=output,
                error_file_id=errors,
                errors=result.why,
            )
        finally:
            await self._release(job.id)

    async def _cancel_remote(self, job: BatchJob, delegate: Delegate) -> None:
        self._cancel_sent.add(job.id)  # once per process; the remote status says the rest
        try:
            await delegate.client.cancel(job.remote["batch_id"])
        except UpstreamError as exc:
            if exc.retryable:
                self._cancel_sent.discard(job.id)  # asked again at the next poll
                raise
            # refused: the remote batch is already final, and its outcome stands

    async def _claim(self, batch_id: str) -> bool:
        """The store's claim is per worker, so it is also kept here: two tasks of this runner
        (the loop and a direct `process` call) never validate or finish one batch together."""
        if batch_id in self._claimed:
            return False
        self._claimed.add(batch_id)
        try:
            if await self.batches.claim(batch_id, self.worker, self._claim_ttl):
                return True
        except BaseException:
            self._claimed.discard(batch_id)
            raise
        self._claimed.discard(batch_id)
        return False

    async def _release(self, batch_id: str) -> None:
        try:
            await self.batches.release(batch_id, self.worker)
        finally:
            self._claimed.discard(batch_id)

    async def _run_lines(self, job: BatchJob) -> None:
        """Lease as many lines as there are free slots (one statement) and run each in a task
        of its own; stop leasing when none is left to lease or the batch is cancelled."""
        principal = principal_of(job)
        slots = asyncio.Semaphore(self._concurrency)
        cut: list[Lease] = []  # lines cut short (a failing sibling, or close): given back

        async def run(lease: Lease) -> None:
            try:
                parsed = lines.parse(lease.raw, lease.line, job.endpoint)
                result = await self._execute(lease.line, parsed, principal)
                if not await self.batches.record(lease, result):
                    log.warning(
                        "a batch line's lease lapsed while it ran; its result is dropped",
                        extra={"batch": job.id, "line": lease.line},
                    )
            except asyncio.CancelledError:
                cut.append(lease)
                raise
            finally:
                del self._held[job.id, lease.line]
                slots.release()

        renewal = asyncio.create_task(self._renew())
        try:
            async with asyncio.TaskGroup() as group:
                while not await self._is_cancelled(job.id):
                    free = 0
                    while free == 0 or not slots.locked():  # one slot, then every free one
                        await slots.acquire()
                        free += 1
                    leases = await self.batches.lease(job.id, self.worker, self._claim_ttl, free)
                    for _ in range(free - len(leases)):
                        slots.release()
                    for lease in leases:
                        self._held[job.id, lease.line] = lease
                        group.create_task(run(lease))
                    if not leases:
                        break  # every open line is done or held by another worker
        finally:
            renewal.cancel()
            if cut:  # others take these at once instead of after the lease ttl
                await self._give_back(cut)

    async def _give_back(self, leases: list[Lease]) -> None:
        try:
            await self.batches.drop(leases)
        except TripointError:
            log.warning("could not give back %d batch lines; they lapse", len(leases))

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._claim_ttl / 3)
            try:
                await self.batches.renew(list(self._held.values()), self._claim_ttl)
            except TripointError:  # the database is away: retried; the leases may lapse
                log.warning("could not renew batch line leases")

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

    async def _settle(self, job: BatchJob) -> BatchJob:
        """Finish the batch if nothing is left to run: every line answered (completed), or
        cancelled with no line still running anywhere (what finished is kept)."""
        current = await self.batches.get(job.id)
        if current is None or current.status not in ("in_progress", "finalizing", "cancelling"):
            return current or job
        unfinished, running = await self.batches.open_lines(job.id)
        if (current.status == "in_progress" and unfinished) or (
            current.status == "cancelling" and running
        ):
            return current
        if not await self._claim(job.id):
            return current  # another worker is finishing it
        try:
            return await self._finish(current)
        finally:
            await self._release(job.id)

    async def _finish(self, job: BatchJob) -> BatchJob:
        """Write the output and error files and close the batch. Each step may be done again
        after a crash: the files have ids fixed by the batch, the states are compare-and-set."""
        if job.status == "in_progress":
            job = await self._move(job, "finalizing")
            if job.status != "finalizing":
                return job  # cancelled meanwhile: the next pass finishes that
        await self.batches.seal(job.id)  # a late result (a cancelled line) is not taken
        results = await self.batches.results(job.id)
        ok = [r.body for r in results if r.ok]
        failed = [r.body for r in results if not r.ok]
        output = await self._write(job, ok, "output") if ok else None
        errors = await self._write(job, failed, "error") if failed else None
        self._cancelled.discard(job.id)
        self._checked.pop(job.id, None)
        return await self._move(
            job,
            "cancelled" if job.status == "cancelling" else "completed",
            counts=Counts(job.counts.total, len(ok), len(failed)),
            output_file_id=output,
            error_file_id=errors,
        )

    async def _write(self, job: BatchJob, rows: list[bytes], kind: str) -> str:
        content = b"\n".join(rows) + b"\n"
        stored = StoredFile(
            output_file_id(job.id, kind),
            job.owner,
            "batch_output",
            f"{job.id}_{kind}.jsonl",
            len(content),
        )
        await self.files.put(stored, content)
        return stored.id

    async def _fail(self, job: BatchJob, why: str) -> BatchJob:
        return await self._move(job, "failed", errors=(why,))

    async def _move(self, job: BatchJob, status: str, **changes: object) -> BatchJob:
        moved = _moved(job, status, **changes)
        if await self.batches.save(moved, expect=job.status):
            return moved
        # cancelled meanwhile: the next pass picks the batch up in its new state
        return await self.batches.get(job.id) or job


def _moved(job: BatchJob, status: str, **changes: object) -> BatchJob:
    return replace(job, status=status, times={**job.times, status: now()}, **changes)  # type: ignore[arg-type]
