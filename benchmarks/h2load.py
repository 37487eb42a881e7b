"""Drive h2load (HTTP/1.1) and read every request's latency from its log file.

h2load's own summary gives min/mean/max; its `--log-file` has one row per request (start,
status, microseconds to the end of the response), so the percentiles here are exact.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SUMMARY = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (exact: no interpolation)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True, slots=True)
class Load:
    """One h2load run: `connections` clients, each one request at a time (no pipelining)."""

    url: str
    body: Path
    connections: int
    duration: float | None = 3.0  # seconds measured; None means a fixed `requests` count
    requests: int = 0  # with duration None


@dataclass(frozen=True, slots=True)
class LoadResult:
    latencies_ms: tuple[float, ...]  # every successful request, sorted
    failed: int  # non-200 answers, errors and timeouts
    seconds: float  # the measured window

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else math.nan

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def h2load_binary() -> str:
    found = shutil.which("h2load")
    if found is None:
        raise RuntimeError(
            "h2load not found: install Debian's nghttp2-client (benchmarks/run does)"
        )
    return found


def command(load: Load, log: Path) -> list[str]:
    argv = [h2load_binary(), "--h1", "-t", "1", "-c", str(load.connections), "-m", "1"]
    if load.duration is None:
        argv += ["-n", str(max(load.requests, load.connections))]
    else:
        # no --warm-up-time: the caller warms up with a separate run, so that CPU read around
        # this run belongs to exactly the requests in its log
        argv += ["-D", f"{round(load.duration * 1000)}ms"]
    argv += ["-d", str(load.body), "-H", "content-type: application/json"]
    argv += ["--log-file", str(log), load.url]
    return argv


def run(load: Load, log: Path) -> LoadResult:
    log.unlink(missing_ok=True)  # h2load appends to an existing log
    # a fixed count gets a second per request on top (streams under callgrind on a busy
    # machine took longer than a flat minute)
    limit = load.duration + 30 if load.duration else 60 + load.requests
    done = subprocess.run(
        command(load, log), capture_output=True, text=True, timeout=limit, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(log.read_text(), done.stdout, load.duration)


def parse(log_text: str, summary: str, duration: float | None) -> LoadResult:
    """Latencies of the 200s from the log; failures from the log and h2load's summary."""
    latencies: list[float] = []
    not_ok = 0
    first_start = last_end = None
    for row in log_text.splitlines():
        start_us, status, took_us = (int(x) for x in row.split("\t")[:3])
        if status != 200:
            not_ok += 1
            continue
        latencies.append(took_us / 1000)
        first_start = start_us if first_start is None else min(first_start, start_us)
        end = start_us + took_us
        last_end = end if last_end is None else max(last_end, end)
    match = _SUMMARY.search(summary)
    # h2load's "failed" counts non-2xx answers, connection errors and timeouts alike
    failed = max(int(match[5]), not_ok) if match else not_ok
    if duration is not None:
        seconds = duration
    elif first_start is not None and last_end is not None:
        seconds = (last_end - first_start) / 1e6
    else:
        seconds = 0.0
    return LoadResult(tuple(sorted(latencies)), failed, seconds)
