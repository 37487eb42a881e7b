"""Several runners on one batch store share the work: each line is leased, never run twice."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import orjson

from tests.fakes.openai_upstream import FakeOpenAI
from tripoint.batch.records import BatchJob, StoredFile, new_batch_id, new_file_id
from tripoint.batch.runner import BatchRunner
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


async def completed(runner: BatchRunner, batch_id: str) -> BatchJob:
    """Poll the store (a worker in another process cannot set an asyncio.Event here)."""
    for _ in range(1200):
        job = await runner.batches.get(batch_id)
        if job is not None and job.status == "completed":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not complete")


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
        jobs = [await completed(runner_of(first), batch_id) for batch_id in batch_ids]
    finally:
        await first.close()
        await second.close()

    asked = [call.body["messages"][0]["content"] for call in upstream.calls]
    assert len(asked) == 3 * LINES  # no line was asked of the upstream twice
    assert [job.counts.completed for job in jobs] == [LINES] * 3


async def test_batch_worker_process_runs_batches_and_stops_on_sigterm(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    config = tmp_path / "tripoint.yaml"
    config.write_text(
        f"""
server: {{data_dir: {tmp_path}}}
backends: {{fake: {{type: openai, base_url: "{upstream.base_url}"}}}}
models: {{chat-default: {{targets: [{{backend: fake, model: m}}]}}}}
"""
    )
    submitter = runner_of(assemble(parse_settings(config.read_text())))
    batch_id = await submit(submitter, "w")
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tripoint", "batch-worker", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        job = await completed(submitter, batch_id)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.wait(), 30)

    assert job.counts.completed == LINES
    assert code == 0
    await submitter.batches.close()
