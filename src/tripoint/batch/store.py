"""The batch lane's storage seam: where files and batch state live.

`DiskFileStore` and `SqliteBatchStore` are the embedded implementations; `SqlFileStore` and
`SqlBatchStore` keep both in the project's SQL database (PostgreSQL, shared by replicas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tripoint.batch.records import BatchJob, InputLine, Lease, LineResult, StoredFile


class FileStore(Protocol):
    async def put(self, file: StoredFile, content: bytes) -> None: ...

    async def get(self, file_id: str, owner: str) -> StoredFile | None:
        """None when absent or owned by someone else: callers answer 404 either way."""
        ...

    async def content(self, file_id: str, owner: str) -> bytes | None: ...

    async def delete(self, file_id: str, owner: str) -> bool: ...

    async def owned(self, owner: str) -> list[StoredFile]: ...


class BatchStore(Protocol):
    """Jobs, and one row per input line: its lease (who runs it, until when) and its result.

    Workers in any number of processes lease lines one at a time; a lease is renewed while its
    line runs, so one that lapses belongs to a worker that died (or stalled past the ttl), and
    the line is leased again. A result is written only under the line's latest lease, once:
    exactly one output line per custom_id, whatever was killed when.
    """

    async def close(self) -> None: ...

    async def create(self, job: BatchJob) -> None: ...

    async def get(self, batch_id: str, owner: str | None = None) -> BatchJob | None:
        """`owner` None is the runner's view (every owner)."""
        ...

    async def owned(self, owner: str) -> list[BatchJob]:
        """Newest first."""
        ...

    async def save(self, job: BatchJob, *, expect: str) -> bool:
        """Replace the job's state if its stored status is still `expect` (compare-and-set:
        a cancel and the runner never overwrite each other). False when it changed."""
        ...

    async def claim(self, batch_id: str, worker: str, ttl: float) -> bool:
        """Take (or renew) the right to validate or finalise a batch for `ttl` seconds; False
        while another worker holds it (or the batch does not exist)."""
        ...

    async def release(self, batch_id: str, worker: str) -> None: ...

    async def begin(self, job: BatchJob, rows: Sequence[InputLine]) -> bool:
        """Store the batch's lines and save `job` (now in_progress) in one step, if the batch
        is still `validating`; False when it changed meanwhile (cancelled)."""
        ...

    async def lease(self, batch_id: str, worker: str, ttl: float, limit: int = 1) -> list[Lease]:
        """Up to `limit` of the first lines without a result and without a live lease, leased
        to `worker` (in one statement); none when the batch is no longer in_progress."""
        ...

    async def renew(self, leases: Sequence[Lease], ttl: float) -> None:
        """Extend these leases (those still the lines' latest) by `ttl` seconds from now."""
        ...

    async def drop(self, leases: Sequence[Lease]) -> None:
        """Give these leases back at once (a worker stopping cleanly)."""
        ...

    async def record(self, lease: Lease, result: LineResult) -> bool:
        """Store the line's result if `lease` is still its latest and it has none; False
        otherwise (the result is discarded: another lease has the line)."""
        ...

    async def open_lines(self, batch_id: str) -> tuple[int, int]:
        """(lines without a result, those of them under a live lease)."""
        ...

    async def seal(self, batch_id: str) -> None:
        """No result is accepted for this batch's open lines from now on (it is finishing)."""
        ...

    async def tally(self, batch_id: str) -> tuple[int, int]:
        """(succeeded, failed) lines so far, for progress while the batch runs."""
        ...

    async def active(self) -> list[BatchJob]:
        """Batches a runner should work on, oldest first (also after a restart)."""
        ...

    async def results(self, batch_id: str) -> list[LineResult]:
        """Every stored result, in input order."""
        ...
