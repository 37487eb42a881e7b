"""A gateway killed with SIGKILL mid-batch and restarted loses and duplicates nothing."""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import free_port

LINES = 1000


def config(tmp_path: Path, upstream: FakeOpenAI) -> Path:
    path = tmp_path / "tripoint.yaml"
    path.write_text(
        f"""
server: {{data_dir: {tmp_path / "data"}}}
batch: {{concurrency: 8, claim_ttl: 1}}
backends:
  fake: {{type: openai, base_url: "{upstream.base_url}", pattern: self_hosted}}
models:
  chat-default: {{targets: [{{backend: fake, model: upstream-chat}}]}}
"""
    )
    return path


def serve(config_path: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tripoint", "serve", "--config", str(config_path)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(1000):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.02)
    process.kill()
    raise AssertionError("the gateway did not start")


def results(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        try:
            query = "SELECT count(*) FROM batch_lines WHERE ok IS NOT NULL"
            return int(db.execute(query).fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the table is not created yet


@pytest.mark.slow
def test_killed_runner_resumes_with_exactly_one_line_per_custom_id(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    seed = random.randrange(1 << 30)
    kills = sorted(random.Random(seed).sample(range(50, LINES - 50), 3))
    upstream.always(delay=0.01)
    config_path, port = config(tmp_path, upstream), free_port()
    database = tmp_path / "data" / "batches.sqlite3"
    content = b"\n".join(
        orjson.dumps(
            {
                "custom_id": f"req-{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "chat-default", "messages": [{"role": "user", "content": "Hi"}]},
            }
        )
        for i in range(LINES)
    )
    process = serve(config_path, port)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="-", max_retries=3)
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )

    try:
        for point in kills:
            while results(database) < point:
                time.sleep(0.005)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            process = serve(config_path, port)
        deadline = time.monotonic() + 120
        while (batch := client.batches.retrieve(batch.id)).status != "completed":
            assert time.monotonic() < deadline, f"seed {seed}: stuck in {batch.status}"
            time.sleep(0.1)
        output = client.files.content(batch.output_file_id or "").content.splitlines()
    finally:
        process.kill()
        process.wait()

    ids = [orjson.loads(row)["custom_id"] for row in output]
    assert sorted(ids) == sorted(f"req-{i}" for i in range(LINES)), f"seed {seed}"
    assert batch.error_file_id is None
    assert batch.request_counts is not None
    assert batch.request_counts.completed == LINES
    assert len(upstream.calls) >= LINES  # a line in flight at a kill is asked again
