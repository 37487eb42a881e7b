"""With PROMETHEUS_MULTIPROC_DIR, every worker's calls show up in any worker's scrape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.telemetry.conftest import samples

WORKER = """
import sys, time
from tripoint.pipeline.call import Operation, Record
from tripoint.providers.target import BackendFacts, Target
from tripoint.telemetry.metrics import Metrics

metrics = Metrics(["chat-default"])
target = Target(BackendFacts("fake", "openai", "self_hosted", None, False, False, ()), "m")
for _ in range(int(sys.argv[1])):
    record = Record(request_id="r", model="chat-default", operation=Operation.CHAT)
    record.target = target
    record.finished_at = time.perf_counter()
    metrics.write(record)
metrics.set_queue_depth("batch", int(sys.argv[1]))
if sys.argv[2] == "exit":
    metrics.close()
else:
    sys.stdout.buffer.write(metrics.exposition()[0])
"""


def run_worker(directory: Path, calls: int, then: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(calls), then],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode()


def test_a_scrape_sums_the_calls_of_every_worker(tmp_path: Path) -> None:
    run_worker(tmp_path, 3, "exit")

    text = run_worker(tmp_path, 4, "scrape")

    found = samples(text)
    series = {
        ("model", "chat-default"),
        ("operation", "chat"),
        ("backend", "fake"),
        ("pattern", "self_hosted"),
        ("status", "200"),
    }
    assert found[("tripoint_requests_total", frozenset(series))] == 7
    # a live-sum gauge forgets the worker that exited
    assert found[("tripoint_queue_depth", frozenset({("queue", "batch")}))] == 4
