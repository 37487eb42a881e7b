"""`python -m benchmarks.redis_calls`: what one call's limits cost in each store, alone.

One reservation plus its settlement on the limits variant's meters (a caller's RPM, TPM and
budget), one after another from one coroutine: CPU and wall time per pair in the memory store,
in the Redis store (redis-py, one Lua script each) against private redis-servers with
`appendfsync always` and `everysec`, and, for scale, one bare PING round trip over asyncio
streams (the least any Redis call can cost from Python).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from benchmarks import processes
from tripoint.config.limits import LimitSpec, LimitsSettings, RedisStore
from tripoint.limits.assembly import redis_client
from tripoint.limits.memory import MemoryLimitStore
from tripoint.limits.meters import Demand, meters_for
from tripoint.limits.redis_store import RedisLimitStore
from tripoint.limits.resilient import ResilientStore
from tripoint.limits.store import LimitStore
from tripoint.pipeline.call import Principal

SETTINGS = LimitsSettings(
    defaults=LimitSpec(
        requests_per_minute=100_000_000,
        tokens_per_minute=100_000_000_000,
        budget_usd_total=Decimal(1_000_000),
    )
)
METERS = meters_for(SETTINGS, Principal(id="anonymous"), "m")
AMOUNTS = [Demand(30, 64, 100_000).amount(m) for m in METERS]


async def timed(step: Callable[[int], Awaitable[None]], count: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per step, after a warm-up."""
    for i in range(50):
        await step(-i - 1)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        await step(i)
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def pair(store: LimitStore, tag: str) -> Callable[[int], Awaitable[None]]:
    async def step(i: int) -> None:
        lease = f"{tag}{i}"
        admission = await store.reserve(METERS, AMOUNTS, lease)
        await store.settle(METERS, AMOUNTS, AMOUNTS, lease, admission.bucket)

    return step


async def ping(url: str) -> Callable[[int], Awaitable[None]]:
    host, port = url.removeprefix("redis://").split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))

    async def step(i: int) -> None:
        writer.write(b"PING\r\n")
        await reader.readline()

    return step


async def measure(urls: dict[str, str], count: int) -> list[tuple[str, float, float]]:
    rows = [("memory store: reserve + settle", *await timed(pair(MemoryLimitStore(), "m"), count))]
    for fsync, url in urls.items():
        client = redis_client(RedisStore(type="redis", url=SecretStr(url), timeout=1))
        store = ResilientStore(RedisLimitStore(client), replicas=1)
        cost = await timed(pair(store, f"r{fsync}"), count)
        rows.append((f"Redis store ({fsync}): reserve + settle", *cost))
        rows.append((f"bare PING round trip ({fsync})", *await timed(await ping(url), count)))
        await client.aclose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_calls")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tripoint-redis-calls-") as tmp:
        started = [
            (fsync, *processes.start_redis(Path(tmp) / fsync, fsync))
            for fsync in ("always", "everysec")
        ]
        try:
            rows = asyncio.run(measure({fsync: url for fsync, _, url in started}, args.count))
        finally:
            for _, process, _ in started:
                process.stop()
    print("| per call | CPU µs | wall µs |\n|---|---|---|")
    for name, cpu, wall in rows:
        print(f"| {name} | {cpu:,.0f} | {wall:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
