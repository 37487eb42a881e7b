"""The batch lane's storage seam: where files and batch state live.

`DiskFileStore` and `SqliteBatchStore` are the embedded implementations; a SQL store shared by
replicas (PostgreSQL) implements the same two protocols.
"""

from __future__ import annotations

from typing import Protocol

from tripoint.batch.records import BatchJob, LineResult, StoredFile


class FileStore(Protocol):
    async def put(self, file: StoredFile, content: bytes) -> None: ...

    async def get(self, file_id: str, owner: str) -> StoredFile | None:
        """None when absent or owned by someone else: callers answer 404 either way."""
        ...

    async def content(self, file_id: str, owner: str) -> bytes | None: ...

    async def delete(self, file_id: str, owner: str) -> bool: ...

    async def owned(self, owner: str) -> list[StoredFile]: ...


class BatchStore(Protocol):
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
        """Take (or renew) the right to work on a batch for `ttl` seconds; False while another
        worker holds it. A killed worker's claim lapses, so its batch is resumed elsewhere."""
        ...

    async def release(self, batch_id: str, worker: str) -> None: ...

    async def tally(self, batch_id: str) -> tuple[int, int]:
        """(succeeded, failed) lines so far, for progress while the batch runs."""
        ...

    async def active(self) -> list[BatchJob]:
        """Batches a runner should work on, oldest first (also after a restart)."""
        ...

    async def record(self, batch_id: str, result: LineResult) -> bool:
        """Store one line's result; False when that custom_id already has one (kept as is)."""
        ...

    async def done(self, batch_id: str) -> set[str]:
        """custom_ids that already have a result."""
        ...

    async def results(self, batch_id: str) -> list[LineResult]:
        """Every stored result, in input order."""
        ...
