"""Gateways on PostgreSQL share one batch line by line, and a cancel stops all of them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import asyncpg
import orjson
import pytest

from tests.batch.test_workers import runner_of, submit
from tests.fakes.openai_upstream import FakeOpenAI
from tests.postgres import PostgresServer
from tripoint.batch.records import BatchJob, now
from tripoint.batch.runner import BatchRunner
from tripoint.batch.sql import SqlBatchStore
from tripoint.config import parse_settings
from tripoint.gateway import Gateway
from tripoint.gateway.assembly import assemble

LINES = 120  # as tests.batch.test_workers.submit writes them


@pytest.fixture
async def dsn(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    dsn = await asyncio.to_thread(postgres.create_database)
    monkeypatch.setenv("TRIPOINT_TEST_DSN", dsn)
    return dsn


def gateways(tmp_path: Path, upstream: FakeOpenAI, count: int) -> list[Gateway]:
    settings = parse_settings(
        f"""
server: {{data_dir: {tmp_path}}}
storage: {{url: env:TRIPOINT_TEST_DSN}}
batch: {{concurrency: 4}}
backends: {{fake: {{type: openai, base_url: "{upstream.base_url}"}}}}
models: {{chat-default: {{targets: [{{backend: fake, model: m}}]}}}}
"""
    )
    return [assemble(settings) for _ in range(count)]


async def until(runner: BatchRunner, batch_id: str, *statuses: str) -> BatchJob:
    for _ in range(1200):
        job = await runner.batches.get(batch_id)
        if job is not None and job.status in statuses:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id} never reached {statuses}")


async def workers_of(dsn: str, batch_id: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT DISTINCT worker FROM batch_lines WHERE batch_id = $1", batch_id
        )
    finally:
        await connection.close()
    return {row[0] for row in rows}


async def test_gateways_on_postgresql_share_one_batch_line_by_line(
    tmp_path: Path, upstream: FakeOpenAI, dsn: str
) -> None:
    upstream.always(delay=0.02)
    first, second = gateways(tmp_path, upstream, 2)
    await first.start()
    await second.start()
    try:
        runner = runner_of(first)
        assert isinstance(runner.batches, SqlBatchStore)
        batch_id = await submit(runner, "shared")
        job = await until(runner, batch_id, "completed")
        output = await runner.files.content(job.output_file_id or "", job.owner)
    finally:
        await first.close()
        await second.close()

    asked = sorted(call.body["messages"][0]["content"] for call in upstream.calls)
    ids = sorted(orjson.loads(row)["custom_id"] for row in (output or b"").splitlines())
    assert ids == sorted(f"shared-{i}" for i in range(LINES))
    assert len(asked) == LINES  # no line was asked twice
    assert await workers_of(dsn, batch_id) == {runner_of(first).worker, runner_of(second).worker}


async def test_a_cancel_stops_every_worker_and_keeps_what_finished(
    tmp_path: Path, upstream: FakeOpenAI, dsn: str
) -> None:
    upstream.always(delay=0.05)
    first, second = gateways(tmp_path, upstream, 2)
    runner = runner_of(first)
    await first.start()
    await second.start()
    try:
        batch_id = await submit(runner, "cancel")
        while (await runner.batches.tally(batch_id))[0] < 20:  # noqa: ASYNC110 -- a store
            await asyncio.sleep(0.01)
        running = await until(runner, batch_id, "in_progress")
        cancelling = replace(
            running, status="cancelling", times={**running.times, "cancelling": now()}
        )
        assert await runner.batches.save(cancelling, expect="in_progress")  # as the API does
        job = await until(runner, batch_id, "cancelled")
        output = await runner.files.content(job.output_file_id or "", job.owner) or b""
        await asyncio.sleep(0.5)  # a late answer would land now, and must not
        later = await runner.batches.tally(batch_id)
    finally:
        await first.close()
        await second.close()

    ids = [orjson.loads(row)["custom_id"] for row in output.splitlines()]
    assert 20 <= len(ids) < LINES
    assert len(set(ids)) == len(ids)
    assert (job.counts.total, job.counts.completed, job.counts.failed) == (LINES, len(ids), 0)
    assert later == (len(ids), 0)
    assert len(upstream.calls) < LINES  # the workers stopped taking lines


async def test_a_worker_stopping_cleanly_gives_its_lines_back_at_once(
    tmp_path: Path, upstream: FakeOpenAI, dsn: str
) -> None:
    upstream.always(delay=5)
    [gateway] = gateways(tmp_path, upstream, 1)
    runner = runner_of(gateway)
    await gateway.start()
    try:
        batch_id = await submit(runner, "stop")
        while (await runner.batches.open_lines(batch_id))[1] < 4:  # noqa: ASYNC110 -- a store
            await asyncio.sleep(0.01)
    finally:
        await gateway.close()

    [checker] = gateways(tmp_path, upstream, 1)  # not started: only its store is used
    database = next(c for c in checker.components if c.name == "database")
    await database.start()
    try:
        unfinished, leased = await runner_of(checker).batches.open_lines(batch_id)
    finally:
        await database.close()
    assert (unfinished, leased) == (LINES, 0)  # none waits for the lease ttl (30 s)
