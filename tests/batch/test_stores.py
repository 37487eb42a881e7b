"""Every batch store keeps the same promises: owners see only their own, a line is leased to
one worker at a time, a lapsed lease passes on, and a line keeps exactly one result."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.postgres import PostgresServer
from tripoint.batch.disk import DiskFileStore
from tripoint.batch.records import (
    BatchJob,
    Counts,
    InputLine,
    LineResult,
    StoredFile,
    new_batch_id,
    new_file_id,
)
from tripoint.batch.sql import SqlBatchStore
from tripoint.batch.sqlfiles import SqlFileStore
from tripoint.batch.sqlite import SqliteBatchStore
from tripoint.batch.store import BatchStore, FileStore
from tripoint.storage.database import Database

STORES = ["sqlite-file", "sql-sqlite", "sql-postgresql"]


async def database(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if kind == "sql-sqlite":
        url = make_url(f"sqlite+aiosqlite:///{tmp_path / 'tripoint.db'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        dsn = await asyncio.to_thread(server.create_database)  # it runs its own event loop
        url = make_url(dsn).set(drivername="postgresql+asyncpg")
    db = Database(url)
    await db.start()
    return db


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BatchStore]:
    if request.param == "sqlite-file":
        sqlite = SqliteBatchStore(tmp_path / "b.sqlite3")
        yield sqlite
        await sqlite.close()
        return
    db = await database(request.param, request, tmp_path)
    yield SqlBatchStore(db)
    await db.close()


@pytest.fixture(params=["disk", "sql-sqlite", "sql-postgresql"])
async def files(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileStore]:
    if request.param == "disk":
        yield DiskFileStore(tmp_path / "files")
        return
    db = await database(request.param, request, tmp_path)
    yield SqlFileStore(db)
    await db.close()


async def started(store: BatchStore, count: int, owner: str = "team-a") -> BatchJob:
    job = BatchJob(new_batch_id(), owner, "/v1/completions", new_file_id())
    await store.create(job)
    running = replace(job, status="in_progress", counts=Counts(total=count))
    rows = [InputLine(f"c{i}", i, b'{"line": %d}' % i) for i in range(count)]
    assert await store.begin(running, rows)
    return running


def result(custom_id: str, line: int, body: bytes = b"ok", *, ok: bool = True) -> LineResult:
    return LineResult(custom_id, line, ok, body)


async def test_another_owners_file_is_invisible(files: FileStore) -> None:
    mine = StoredFile(new_file_id(), "team-a", "batch", "in.jsonl", 2)
    await files.put(mine, b"{}")

    assert await files.get(mine.id, "team-b") is None
    assert await files.content(mine.id, "team-b") is None
    assert not await files.delete(mine.id, "team-b")
    assert await files.owned("team-b") == []
    assert await files.get(mine.id, "team-a") == mine
    assert await files.content(mine.id, "team-a") == b"{}"
    assert await files.delete(mine.id, "team-a")
    assert await files.get(mine.id, "team-a") is None


async def test_putting_a_file_again_replaces_it(files: FileStore) -> None:
    first = StoredFile(new_file_id(), "team-a", "batch_output", "out.jsonl", 3)
    await files.put(first, b"one")
    await files.put(replace(first, bytes=3), b"two")

    assert await files.content(first.id, "team-a") == b"two"
    assert [f.id for f in await files.owned("team-a")] == [first.id]


async def test_file_ids_outside_the_pattern_never_touch_the_disk(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text('{"owner": "team-a"}')
    files = DiskFileStore(tmp_path / "files")

    assert await files.get("../secret", "team-a") is None
    assert await files.get("file-" + "0" * 23 + "/", "team-a") is None


async def test_another_owners_batch_is_invisible(store: BatchStore) -> None:
    job = BatchJob(new_batch_id(), "team-a", "/v1/completions", new_file_id())
    await store.create(job)

    assert await store.get(job.id, "team-b") is None
    assert await store.owned("team-b") == []
    assert await store.get(job.id, "team-a") == job
    assert await store.owned("team-a") == [job]


async def test_save_is_compare_and_set_on_the_status(store: BatchStore) -> None:
    job = BatchJob(new_batch_id(), "team-a", "/v1/completions", new_file_id())
    await store.create(job)
    cancelling = replace(job, status="cancelling")

    assert await store.save(cancelling, expect="validating")
    assert not await store.save(cancelling, expect="validating")
    assert await store.active() == [cancelling]


async def test_a_cancelled_batch_does_not_begin(store: BatchStore) -> None:
    job = BatchJob(new_batch_id(), "team-a", "/v1/completions", new_file_id())
    await store.create(job)
    await store.save(replace(job, status="cancelling"), expect="validating")

    begun = await store.begin(replace(job, status="in_progress"), [InputLine("c0", 0, b"{}")])

    assert not begun
    assert await store.open_lines(job.id) == (0, 0)


async def test_a_claim_excludes_others_until_it_lapses(store: BatchStore) -> None:
    job = BatchJob(new_batch_id(), "team-a", "/v1/completions", new_file_id())
    await store.create(job)

    mine = await store.claim(job.id, "worker-a", ttl=0.3)
    theirs = await store.claim(job.id, "worker-b", ttl=0.3)
    renewed = await store.claim(job.id, "worker-a", ttl=0.3)
    await asyncio.sleep(0.4)
    taken_over = await store.claim(job.id, "worker-b", ttl=10)
    await store.release(job.id, "worker-b")
    free_again = await store.claim(job.id, "worker-a", ttl=10)
    missing = await store.claim(new_batch_id(), "worker-a", ttl=10)

    assert (mine, theirs, renewed, taken_over, free_again) == (True, False, True, True, True)
    assert not missing


async def test_lines_are_leased_in_order_each_to_one_worker(store: BatchStore) -> None:
    job = await started(store, 3)

    first = await store.lease(job.id, "w0", ttl=30)
    more = await store.lease(job.id, "w1", ttl=30, limit=5)
    none = await store.lease(job.id, "w2", ttl=30, limit=5)

    assert [(x.custom_id, x.raw) for x in first] == [("c0", b'{"line": 0}')]
    assert [x.custom_id for x in more] == ["c1", "c2"]
    assert none == []
    assert await store.open_lines(job.id) == (3, 3)


async def test_concurrent_leases_never_share_a_line(store: BatchStore) -> None:
    job = await started(store, 40)

    async def take(worker: str) -> list[str]:
        taken: list[str] = []
        while leases := await store.lease(job.id, worker, ttl=30, limit=len(worker)):
            taken += [lease.custom_id for lease in leases]
        return taken

    hauls = await asyncio.gather(*(take("w" * i) for i in range(1, 7)))  # 1 to 6 at a time

    everything = [custom_id for haul in hauls for custom_id in haul]
    assert sorted(everything) == sorted(f"c{i}" for i in range(40))


async def test_a_lapsed_lease_passes_to_another_worker_and_fences_the_first(
    store: BatchStore,
) -> None:
    job = await started(store, 1)
    [first] = await store.lease(job.id, "killed", ttl=0.2)
    assert await store.lease(job.id, "other", ttl=30) == []  # held
    await asyncio.sleep(0.3)

    [second] = await store.lease(job.id, "other", ttl=30)
    late = await store.record(first, result("c0", 0, b"from the first"))
    kept = await store.record(second, result("c0", 0, b"from the second"))
    again = await store.record(second, result("c0", 0, b"twice"))

    assert second.attempt == first.attempt + 1
    assert (late, kept, again) == (False, True, False)
    assert [r.body for r in await store.results(job.id)] == [b"from the second"]
    assert await store.tally(job.id) == (1, 0)
    assert await store.open_lines(job.id) == (0, 0)


async def test_a_renewed_lease_is_not_taken_and_a_dropped_one_is_free_at_once(
    store: BatchStore,
) -> None:
    job = await started(store, 2)
    kept, dropped = await store.lease(job.id, "w", ttl=0.3, limit=2)

    await store.renew([kept], ttl=30)
    await store.drop([dropped])
    await asyncio.sleep(0.4)
    taken = await store.lease(job.id, "other", ttl=30, limit=2)

    assert [x.custom_id for x in taken] == [dropped.custom_id]
    assert await store.open_lines(job.id) == (2, 2)


async def test_sealed_lines_take_no_result_and_results_keep_input_order(
    store: BatchStore,
) -> None:
    job = await started(store, 3)
    first, middle, last = await store.lease(job.id, "w", ttl=30, limit=3)
    await store.record(last, result("c2", 2, b"two", ok=False))
    await store.record(first, result("c0", 0, b"zero"))

    await store.seal(job.id)
    sealed = await store.record(middle, result("c1", 1, b"late"))

    assert not sealed
    assert [(r.custom_id, r.ok, r.body) for r in await store.results(job.id)] == [
        ("c0", True, b"zero"),
        ("c2", False, b"two"),
    ]
    assert await store.tally(job.id) == (1, 1)
    assert await store.open_lines(job.id) == (0, 0)


async def test_no_line_is_leased_once_the_batch_leaves_in_progress(store: BatchStore) -> None:
    job = await started(store, 2)

    await store.save(replace(job, status="cancelling"), expect="in_progress")

    assert await store.lease(job.id, "w", ttl=30, limit=2) == []
