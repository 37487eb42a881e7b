"""Batch workers on PostgreSQL: three `tripoint batch-worker` processes and a gateway share one
batch; workers killed with SIGKILL at random points and restarted lose and duplicate nothing,
and no line is ever asked of the upstream by two workers at once."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import random
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path

import asyncpg
import httpx
import openai
import orjson
import pytest

from tests.fakes.openai_upstream import FakeOpenAI, Seen
from tests.postgres import PostgresServer
from tests.servers import free_port

LINES = 300
WORKERS = 3
CONCURRENCY = 2  # lines in flight per process: what one kill can leave half-done
KILLS = 4
TTL = 5.0  # lease seconds: long enough that a busy 2-core machine never lets a live one lapse
ARRIVAL_LAG = 0.5  # seconds the fake upstream (a thread of this process) may read a request late


def config(tmp_path: Path, upstream: FakeOpenAI) -> Path:
    path = tmp_path / "tripoint.yaml"
    path.write_text(
        f"""
server: {{data_dir: {tmp_path / "data"}}}
storage: {{url: env:TRIPOINT_TEST_DSN}}
batch: {{concurrency: {CONCURRENCY}, claim_ttl: {TTL}}}
backends:
  fake: {{type: openai, base_url: "{upstream.base_url}", pattern: self_hosted}}
models:
  chat-default: {{targets: [{{backend: fake, model: upstream-chat}}]}}
"""
    )
    return path


def batch_input() -> bytes:
    return b"\n".join(
        orjson.dumps(
            {
                "custom_id": f"req-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "chat-default",
                    "messages": [{"role": "user", "content": f"req-{i}"}],  # seen upstream
                },
            }
        )
        for i in range(LINES)
    )


class Fleet:
    """The gateway and the worker processes, each started with the same config."""

    def __init__(self, config_path: Path, dsn: str) -> None:
        self.config = config_path
        self.env = {**os.environ, "TRIPOINT_TEST_DSN": dsn}
        self.port = free_port()
        self.gateway: asyncio.subprocess.Process | None = None
        self.workers: list[asyncio.subprocess.Process] = []
        self.spawned = 0

    async def _spawn(self, *args: str) -> asyncio.subprocess.Process:
        self.spawned += 1  # each process logs to a file of its own, read when a test fails
        with (self.config.parent / f"{args[0]}-{self.spawned}.log").open("wb") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tripoint", *args, "--config", str(self.config),
                env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
            )  # fmt: skip

    async def start(self) -> None:
        self.gateway = await self._spawn(
            "serve", "--port", str(self.port), "--log-level", "warning"
        )
        async with httpx.AsyncClient() as client:
            for _ in range(1500):
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            else:
                raise AssertionError("the gateway did not start")
        self.workers = [await self._spawn("batch-worker") for _ in range(WORKERS)]

    async def kill_one_holding_lines(self, dsn: str, rng: random.Random) -> float:
        """SIGKILL a worker process while it holds leased lines, and start it again; when."""
        while True:
            holders = await lease_holders(dsn)
            running = [i for i, w in enumerate(self.workers) if w.pid in holders]
            if running:
                break
            await asyncio.sleep(0.01)  # the workers are still starting
        index = rng.choice(running)
        killed = time.monotonic()
        self.workers[index].send_signal(signal.SIGKILL)
        await self.workers[index].wait()
        self.workers[index] = await self._spawn("batch-worker")
        return killed

    async def stop(self) -> None:
        for process in [*self.workers, self.gateway]:
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGKILL)
                await process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def answered_lines(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM batch_lines WHERE ok"))
    finally:
        await connection.close()


async def lease_holders(dsn: str) -> set[int]:
    """The process ids of the workers holding live leases (worker names end in pid-token)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT DISTINCT worker FROM batch_lines WHERE ok IS NULL AND NOT sealed"
            " AND lease_until > extract(epoch FROM clock_timestamp())"
        )
    finally:
        await connection.close()
    return {int(row[0].rsplit("-", 2)[1]) for row in rows}


async def attempts_per_line(dsn: str) -> list[int]:
    connection = await asyncpg.connect(dsn)
    try:
        return [row[0] for row in await connection.fetch("SELECT attempt FROM batch_lines")]
    finally:
        await connection.close()


def problems(folder: Path) -> str:
    """The warnings and errors the processes logged, for a failure's message."""
    found = [
        f"{log.name}: {line}"
        for log in sorted(folder.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if '"level":"warning"' in line or '"level":"error"' in line
    ]
    return "\n".join(line for line in found if "gateway is OPEN" not in line)


def asked_by_custom_id(calls: list[Seen]) -> dict[str, list[Seen]]:
    asked: dict[str, list[Seen]] = defaultdict(list)
    for call in calls:
        asked[call.body["messages"][0]["content"]].append(call)
    return asked


@pytest.mark.slow
async def test_killed_workers_on_postgres_leave_exactly_one_answer_per_custom_id(
    tmp_path: Path, upstream: FakeOpenAI, postgres: PostgresServer
) -> None:
    seed = int(os.environ.get("TRIPOINT_TEST_SEED") or random.randrange(1 << 30))  # to replay
    rng = random.Random(seed)
    kills = sorted(rng.sample(range(20, LINES - 40), KILLS))
    upstream.always(delay=0.2)
    dsn = await asyncio.to_thread(postgres.create_database)
    fleet = Fleet(config(tmp_path, upstream), dsn)
    killed_at: list[float] = []
    await fleet.start()
    try:
        client = openai.AsyncOpenAI(base_url=f"{fleet.url}/v1", api_key="-", max_retries=3)
        content = ("in.jsonl", io.BytesIO(batch_input()))
        upload = await client.files.create(file=content, purpose="batch")
        batch = await client.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
        )

        for point in kills:
            while await answered_lines(dsn) < point:  # noqa: ASYNC110 -- another process
                await asyncio.sleep(0.01)
            killed_at.append(await fleet.kill_one_holding_lines(dsn, rng))
        deadline = time.monotonic() + 180
        while (batch := await client.batches.retrieve(batch.id)).status != "completed":
            assert time.monotonic() < deadline, f"seed {seed}: stuck in {batch.status}"
            await asyncio.sleep(0.2)
        output = (await client.files.content(batch.output_file_id or "")).content.splitlines()
        attempts = await attempts_per_line(dsn)
    finally:
        await fleet.stop()

    ids = [orjson.loads(row)["custom_id"] for row in output]
    assert sorted(ids) == sorted(f"req-{i}" for i in range(LINES)), f"seed {seed}"
    assert batch.error_file_id is None
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (LINES, LINES)

    asked = asked_by_custom_id(upstream.calls)
    assert set(asked) == set(ids)
    for custom_id, tries in asked.items():
        tries.sort(key=lambda seen: seen.at)
        for before, after in itertools.pairwise(tries):
            # never two workers at once: each try began after the one before had ended ...
            assert before.ended is not None
            assert after.at >= before.ended, f"seed {seed}: {custom_id} asked concurrently"
            # ... and a line is asked again only after the worker that held it was killed and
            # its lease lapsed (renewed every TTL/3, so it lapses at least TTL/3 after a kill;
            # ARRIVAL_LAG: a request sent just before the kill may be read by the fake after it)
            assert any(
                before.at - ARRIVAL_LAG <= kill <= after.at - TTL / 3 for kill in killed_at
            ), (
                f"seed {seed}: {custom_id} asked again with no kill and lapse between the tries:"
                f" {[(t.at, t.ended, t.answered) for t in tries]}, kills at {killed_at}"
                f"\n{problems(tmp_path)}"
            )
    # a kill cuts short at most the lines in flight in that process; each is leased again
    retried = sum(len(tries) - 1 for tries in asked.values())
    assert retried <= KILLS * CONCURRENCY, f"seed {seed}"
    print(f"seed {seed}: {retried} lines asked again, {sum(attempts) - LINES} leases lapsed")
    # every kill stranded leased lines, which were leased again once their leases lapsed
    assert 1 <= sum(attempts) - LINES <= KILLS * CONCURRENCY, f"seed {seed}"
