"""Batch throughput on PostgreSQL with 1 and 3 `tripoint batch-worker` processes sharing a batch.

A private PostgreSQL on loopback, a loopback upstream answering after 50 ms (`--latency`).
Workers are started and connected first; the clock runs from submitting the batch to its
`completed` status.

    .venv/bin/python benchmarks/batch_workers.py [--lines N] [--concurrency C] [--latency S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import orjson
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_upstream import FakeOpenAI  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tripoint.batch.records import BatchJob, StoredFile, new_batch_id, new_file_id  # noqa: E402
from tripoint.batch.sql import SqlBatchStore  # noqa: E402
from tripoint.batch.sqlfiles import SqlFileStore  # noqa: E402
from tripoint.storage.database import Database  # noqa: E402

ENDPOINT = "/v1/chat/completions"


def batch_file(count: int) -> bytes:
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}
    return b"\n".join(
        orjson.dumps({"custom_id": f"c{i}", "method": "POST", "url": ENDPOINT, "body": body})
        for i in range(count)
    )


async def connections(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        name = make_url(dsn).database
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        )
        return int(await connection.fetchval(query, name))
    finally:
        await connection.close()


async def run(
    server: PostgresServer, upstream: FakeOpenAI, workers: int, lines: int, concurrency: int
) -> float:
    """Lines per second for one batch run by `workers` processes."""
    dsn = await asyncio.to_thread(server.create_database)
    database = Database(make_url(dsn).set(drivername="postgresql+asyncpg"))
    await database.start()
    folder = Path(tempfile.mkdtemp(prefix="tripoint-bench-"))
    config = folder / "tripoint.yaml"
    config.write_text(f"""
server: {{data_dir: {folder}}}
storage: {{url: env:TRIPOINT_BENCH_DSN}}
batch: {{concurrency: {concurrency}}}
telemetry: {{access_log: false}}
backends: {{b: {{type: openai, base_url: "{upstream.base_url}", pattern: self_hosted}}}}
models: {{m: {{targets: [{{backend: b, model: x}}]}}}}
""")  # fmt: skip
    env = {**os.environ, "TRIPOINT_BENCH_DSN": dsn}
    command = [sys.executable, "-m", "tripoint", "batch-worker", "--config", str(config)]
    quiet = asyncio.subprocess.DEVNULL
    processes = [
        await asyncio.create_subprocess_exec(*command, env=env, stdout=quiet, stderr=quiet)
        for _ in range(workers)
    ]
    while await connections(dsn) < workers + 1:  # each worker's pool, and ours
        await asyncio.sleep(0.1)
    files, batches = SqlFileStore(database), SqlBatchStore(database)
    content = batch_file(lines)
    upload = StoredFile(new_file_id(), "bench", "batch", "in.jsonl", len(content))
    await files.put(upload, content)
    job = BatchJob(new_batch_id(), "bench", ENDPOINT, upload.id)
    start = time.perf_counter()
    await batches.create(job)
    while (current := await batches.get(job.id)) is None or current.status != "completed":
        await asyncio.sleep(0.02)
    seconds = time.perf_counter() - start
    assert current.counts.completed == lines, current
    for process in processes:
        process.send_signal(signal.SIGTERM)
        await process.wait()
    await database.close()
    return lines / seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05, help="upstream seconds per answer")
    args = parser.parse_args()
    server = PostgresServer().start()
    upstream = FakeOpenAI().start()
    upstream.always(delay=args.latency)
    try:
        ideal = args.concurrency / args.latency
        print(
            f"PostgreSQL, {args.latency * 1000:.0f} ms upstream, {args.lines} lines, "
            f"concurrency {args.concurrency} per worker"
        )
        rates = {}
        for workers in (1, 3, 1, 3):  # interleaved: machine load hits both alike
            rate = await run(server, upstream, workers, args.lines, args.concurrency)
            rates.setdefault(workers, []).append(rate)
            print(f"  {workers} worker(s): {rate:7.1f} lines/s  (ideal {workers * ideal:5.0f})")
        best = {n: max(r) for n, r in rates.items()}
        print(f"  best of 2: 1 worker {best[1]:.1f}, 3 workers {best[3]:.1f} lines/s, "
              f"ratio {best[3] / best[1]:.2f}")  # fmt: skip
    finally:
        upstream.stop()
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
