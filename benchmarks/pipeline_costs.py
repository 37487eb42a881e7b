"""CPU per call and per chunk of the gateway's pipeline alone, in one process, without HTTP.

The benchmark harness's gateways see the whole machine's noise; this runs `gateway.run(call)`
for the bench configs (bare and limits) with each backend's `chat` replaced by a generator of
N ready chunks, and reports the best of five rounds of process CPU time. The difference
between the two configs is what the limits stage costs a call.

    PYTHONPATH=src .venv/bin/python -m benchmarks.pipeline_costs
    PYTHONPATH=<other tree>/src .venv/bin/python -m benchmarks.pipeline_costs   # A/B
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator

import yaml

from benchmarks import scenarios
from benchmarks.scenarios import Cell
from tripoint.config.schema import Settings
from tripoint.gateway.assembly import assemble
from tripoint.providers.target import Target
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Usage
from tripoint.schema.requests import ChatRequest

CONFIGS = {"bare": scenarios.bare_config, "limits": scenarios.limits_config}


async def measure(config: str, calls: int, chunks: int) -> tuple[float, float]:
    """(µs per call with one chunk, µs per further chunk)."""
    cell = Cell(concurrency=1, stream=True, delay_ms=0, events=32)
    yaml_text = CONFIGS[config]("http://127.0.0.1:9/v1", [cell.model])
    gateway = assemble(Settings.model_validate(yaml.safe_load(yaml_text)))
    await gateway.start()
    request = ChatRequest.model_validate_json(scenarios.request_body(cell))
    content = [ChatChunk(choices=(ChoiceDelta(text="hi"),)) for _ in range(chunks)]
    last = ChatChunk(usage=Usage(20, chunks, 20 + chunks))
    length = [0]

    async def chat(request: ChatRequest, target: Target) -> AsyncIterator[ChatChunk]:
        for chunk in content[: length[0]]:
            yield chunk
        yield last

    for provider in gateway.providers.values():
        setattr(provider, "chat", chat)  # noqa: B010 -- replaces the transport, not typed

    async def one() -> None:
        async for _ in gateway.run(gateway.call(request)):
            pass

    best: dict[int, float] = {}
    for n in (0, chunks):
        length[0] = n
        for _ in range(calls // 4):
            await one()
        rounds = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(calls):
                await one()
            rounds.append((time.process_time() - started) / calls)
        best[n] = min(rounds)
    await gateway.close()
    return best[0] * 1e6, (best[chunks] - best[0]) / chunks * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=100)
    args = parser.parse_args()
    for config in CONFIGS:
        per_call, per_chunk = asyncio.run(measure(config, args.calls, args.chunks))
        print(f"{config:7s} {per_call:7.1f} µs per call, {per_chunk:5.2f} µs per further chunk")


if __name__ == "__main__":
    main()
