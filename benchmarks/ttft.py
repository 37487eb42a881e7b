"""Time to first token: a small, bounded aiohttp client that streams and times the first event.

h2load times whole responses only, so streaming's first event needs its own client. It runs
`concurrency` workers until `requests` answers are in or `seconds` have passed, whichever
comes first, and records per request the time to the first `data:` event carrying content
and to the end of the stream.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
import uvloop

from benchmarks.h2load import percentile


@dataclass(frozen=True, slots=True)
class StreamTimes:
    first_ms: tuple[float, ...]  # sorted: time to the first content event
    total_ms: tuple[float, ...]  # sorted: time to `[DONE]`
    events: int  # content events counted over all streams
    failed: int

    @property
    def ok(self) -> int:
        return len(self.first_ms)

    def ttft(self, q: float) -> float:
        return percentile(self.first_ms, q)


_CONTENT = b'"content":"'


async def _one(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = 0.0
    events = 0
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        async for line in response.content:
            if not line.startswith(b"data: "):
                continue
            if line.startswith(b"data: [DONE]"):
                return first, (time.perf_counter() - started) * 1000, events
            if _CONTENT in line and b'"content":""' not in line:
                events += 1
                if not first:
                    first = (time.perf_counter() - started) * 1000
    raise RuntimeError("stream ended without [DONE]")


async def measure(
    url: str, body: bytes, concurrency: int, requests: int, seconds: float
) -> StreamTimes:
    firsts: list[float] = []
    totals: list[float] = []
    counts = [0, 0]  # events, failures
    remaining = [requests]
    deadline = 0.0  # set once the connections are open

    async def worker(session: aiohttp.ClientSession) -> None:
        while remaining[0] > 0 and time.perf_counter() < deadline:
            remaining[0] -= 1
            try:
                first, total, events = await _one(session, url, body)
            except (aiohttp.ClientError, RuntimeError, TimeoutError):
                counts[1] += 1
                continue
            firsts.append(first)
            totals.append(total)
            counts[0] += events

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # one unmeasured round opens the connections, as h2load's warm-up does
        await asyncio.gather(
            *(_one(session, url, body) for _ in range(concurrency)), return_exceptions=True
        )
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return StreamTimes(tuple(sorted(firsts)), tuple(sorted(totals)), counts[0], counts[1])


def run(url: str, body: bytes, concurrency: int, requests: int, seconds: float) -> StreamTimes:
    """Blocking entry point: its own uvloop loop, so the harness stays synchronous."""
    return uvloop.run(measure(url, body, concurrency, requests, seconds))
