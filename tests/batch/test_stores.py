"""The embedded batch stores: owners see only their own, results are kept exactly once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tripoint.batch.disk import DiskFileStore
from tripoint.batch.records import BatchJob, LineResult, StoredFile, new_batch_id, new_file_id
from tripoint.batch.sqlite import SqliteBatchStore


async def test_another_owners_file_is_invisible(tmp_path: Path) -> None:
    files = DiskFileStore(tmp_path / "files")
    mine = StoredFile(new_file_id(), "team-a", "batch", "in.jsonl", 2)
    await files.put(mine, b"{}")

    assert await files.get(mine.id, "team-b") is None
    assert await files.content(mine.id, "team-b") is None
    assert not await files.delete(mine.id, "team-b")
    assert await files.owned("team-b") == []
    assert await files.content(mine.id, "team-a") == b"{}"


async def test_file_ids_outside_the_pattern_never_touch_the_disk(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text('{"owner": "team-a"}')
    files = DiskFileStore(tmp_path / "files")

    assert await files.get("../secret", "team-a") is None
    assert await files.get("file-" + "0" * 23 + "/", "team-a") is None


async def test_another_owners_batch_is_invisible(tmp_path: Path) -> None:
    store = SqliteBatchStore(tmp_path / "b.sqlite3")
    job = BatchJob(new_batch_id(), "team-a", "/v1/completions", new_file_id())
    await store.create(job)

    assert await store.get(job.id, "team-b") is None
    assert await store.owned("team-b") == []
    assert await store.get(job.id, "team-a") == job
    await store.close()


async def test_a_custom_id_keeps_its_first_result(tmp_path: Path) -> None:
    store = SqliteBatchStore(tmp_path / "b.sqlite3")
    job = BatchJob(new_batch_id(), "team-a", "/v1/completions", new_file_id())
    await store.create(job)

    first = await store.record(job.id, LineResult("x", 0, True, b"first"))
    again = await store.record(job.id, LineResult("x", 0, False, b"second"))

    assert (first, again) == (True, False)
    assert [r.body for r in await store.results(job.id)] == [b"first"]
    assert await store.tally(job.id) == (1, 0)
    await store.close()


async def test_save_is_compare_and_set_on_the_status(tmp_path: Path) -> None:
    store = SqliteBatchStore(tmp_path / "b.sqlite3")
    job = BatchJob(new_batch_id(), "team-a", "/v1/completions", new_file_id())
    await store.create(job)
    cancelling = replace(job, status="cancelling")

    assert await store.save(cancelling, expect="validating")
    assert not await store.save(cancelling, expect="validating")
    await store.close()
