"""Several runners on one batch store share the work: a batch is claimed, never run twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from tests.fakes.openai_upstream import FakeOpenAI
from tripoint.batch.records import BatchJob, StoredFile, new_batch_id, new_file_id
from tripoint.batch.runner import BatchRunner
from tripoint.batch.sqlite import SqliteBatchStore
from tripoint.config import parse_settings
from tripoint.gateway import Gateway
from tripoint.gateway.assembly import assemble

LINES = 120


def runner_of(gateway: Gateway) -> BatchRunner:
    runner = gateway.component("batches")
    assert isinstance(runner, BatchRunner)
    return runner


async def submit(runner: BatchRunner, name: str) -> str:
    body = {"model": "chat-default", "messages": [{"role": "user", "content": "Hi"}]}
    content = b"\n".join(
        orjson.dumps({"custom_id": f"{name}-{i}", "url": "/v1/chat/completions", "body": body})
        for i in range(LINES)
    )
    upload = StoredFile(new_file_id(), "team", "batch", "in.jsonl", len(content))
    await runner.files.put(upload, content)
    job = BatchJob(new_batch_id(), "team", "/v1/chat/completions", upload.id)
    await runner.batches.create(job)
    return job.id


async def test_two_workers_run_each_line_once(tmp_path: Path, upstream: FakeOpenAI) -> None:
    upstream.always(delay=0.005)
    settings = parse_settings(
        f"""
server: {{data_dir: {tmp_path}}}
batch: {{concurrency: 4}}
backends: {{fake: {{type: openai, base_url: "{upstream.base_url}"}}}}
models: {{chat-default: {{targets: [{{backend: fake, model: m}}]}}}}
"""
    )
    first, second = assemble(settings), assemble(settings)
    batch_ids = [await submit(runner_of(first), name) for name in ("a", "b", "c")]

    await first.start()
    await second.start()
    try:
        async with asyncio.timeout(60):
            while True:
                jobs = [await runner_of(first).batches.get(i) for i in batch_ids]
                if all(j is not None and j.status == "completed" for j in jobs):
                    break
                await asyncio.sleep(0.05)
    finally:
        await first.close()
        await second.close()

    asked = [call.body["messages"][0]["content"] for call in upstream.calls]
    assert len(asked) == 3 * LINES  # no line was asked of the upstream twice
    for job in jobs:
        assert job is not None
        assert job.counts.completed == LINES


async def test_a_claim_excludes_others_until_it_lapses(tmp_path: Path) -> None:
    store = SqliteBatchStore(tmp_path / "b.sqlite3")

    mine = await store.claim("batch_1", "worker-a", ttl=0.2)
    theirs = await store.claim("batch_1", "worker-b", ttl=0.2)
    renewed = await store.claim("batch_1", "worker-a", ttl=0.2)
    await asyncio.sleep(0.3)
    taken_over = await store.claim("batch_1", "worker-b", ttl=10)
    await store.release("batch_1", "worker-b")
    free_again = await store.claim("batch_1", "worker-a", ttl=10)

    assert (mine, theirs, renewed, taken_over, free_again) == (True, False, True, True, True)
    await store.close()
