"""Prompt capture's cost, in CPU microseconds (process time, all threads), in one process.

Hot path: a call through a pass-through stage (what a team that did not opt in pays: the
capture stage's check, then re-yielding) against the capture stage for an opted-in team (the
request's texts referenced, every chunk added to the transcript, the capture queued), with a
streamed answer of 1 or 32 content chunks. Rounds alternate the two, so machine noise hits both.

Off the hot path: the writer redacting (the real PII and secrets checks, Presidio included)
and inserting captures into SQLite, CPU per capture and captures per CPU-second; prompts of
about 100 and 1,000 words of prose with an email address and a key in them.

Usage: .venv/bin/python benchmarks/capture_costs.py [--calls 20000] [--captures 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from guardrail_samples import prose
from tripoint.capture.stage import CaptureStage
from tripoint.capture.transcript import Capture, Transcript
from tripoint.capture.writer import ContentWriter
from tripoint.config import parse_settings
from tripoint.config.governance import GovernanceSettings
from tripoint.guardrails.engine import GuardrailEngine
from tripoint.guardrails.scrubber import Scrubber
from tripoint.pipeline.call import Call, Operation, Principal, Record
from tripoint.pipeline.stage import ChunkStream, Next
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Usage
from tripoint.schema.requests import ChatRequest
from tripoint.storage.database import URL, Database

PRINCIPAL = Principal(id="k", team="team_1", team_name="red", role="member", kind="key")
REQUEST = ChatRequest.model_validate(
    {
        "model": "chat-default",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Summarise the ticket below in two sentences. " * 20},
        ],
    }
)
GOVERNANCE = GovernanceSettings.model_validate({"capture": {"teams": {"red": {}}}})


def answer(events: int) -> list[ChatChunk]:
    chunks = [ChatChunk(choices=(ChoiceDelta(role="assistant", text=""),))]
    chunks += [ChatChunk(choices=(ChoiceDelta(text=" token"),)) for _ in range(events)]
    chunks.append(ChatChunk(choices=(ChoiceDelta(finish_reason="stop"),)))
    chunks.append(ChatChunk(usage=Usage(prompt_tokens=200, completion_tokens=events)))
    return chunks


class Discard:
    def __init__(self) -> None:
        self.count = 0

    def put(self, capture: Capture) -> None:
        self.count += 1


async def passthrough(call: Call, call_next: Next) -> ChunkStream:
    async for chunk in call_next(call):
        yield chunk


def stage_cost(stage: Callable[[Call, Next], ChunkStream], events: int, calls: int) -> float:
    chunks = answer(events)

    async def terminal(call: Call) -> ChunkStream:
        for chunk in chunks:
            yield chunk

    async def run() -> None:
        for _ in range(calls):
            record = Record(
                request_id="0123456789ab",
                model="chat-default",
                operation=Operation.CHAT,
                principal=PRINCIPAL,
            )
            call = Call(
                request=REQUEST, model="chat-default", targets=(), record=record,
                principal=PRINCIPAL, data_class="internal",
            )  # fmt: skip
            async for _chunk in stage(call, terminal):
                pass

    started = time.process_time()
    asyncio.run(run())
    return (time.process_time() - started) / calls * 1e6


def hot_path(calls: int, repeat: int) -> None:
    print(f"hot path: calls={calls} repeat={repeat}; CPU us per call (median of rounds)")
    for events in (1, 32):
        plain, captured = [], []
        for _ in range(repeat):
            plain.append(stage_cost(passthrough, events, calls))
            captured.append(stage_cost(CaptureStage(GOVERNANCE, Discard()), events, calls))
        base, cost = statistics.median(plain), statistics.median(captured)
        print(
            f"  {events:>2} chunks: pass-through {base:6.1f}  capture {cost:6.1f}  "
            f"added {cost - base:5.1f} us/call ({(cost - base) / (events + 3):.2f} us/chunk)"
        )


def capture(words: int, rng: random.Random) -> Capture:
    """One call's capture: a prose prompt with an email and a key in it, a shorter answer."""
    key = "ghp_" + "a1B2c3D4e5" * 3 + "x1Y2Z3"
    prompt = f"{prose(rng, words)} Write to jane.doe@example.com, key {key}."
    request = ChatRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": prompt}]}
    )
    answer = Transcript(65_536)
    answer.add(ChatChunk(choices=(ChoiceDelta(text=prose(rng, words // 4), finish_reason="stop"),)))
    return Capture(
        request=request, request_id="r", wall_started=time.time(), team_id="team_1",
        team_name="red", model="m", operation="chat", data_class="internal", max_bytes=65_536,
        retention_days=30, answer=answer, complete=True,
    )  # fmt: skip


async def loop_lag(busy: asyncio.Task[None] | None, seconds: float = 3.0) -> list[float]:
    """How late a 1 ms sleep wakes, in ms, sampled for `seconds` (or until `busy` is done)."""
    lags: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and (busy is None or not busy.done()):
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - started) * 1000 - 1.0)
    return lags


async def lag_while_redacting(words: int, captures: int) -> tuple[list[float], list[float]]:
    """Event-loop lag idle, then while the writer redacts on its thread (the GIL shared)."""
    engine, writer, database, directory = await _writer()
    rng = random.Random(11)
    idle = await loop_lag(None, 2.0)
    for _ in range(captures):
        writer.put(capture(words, rng))
    busy = asyncio.create_task(writer.flush())
    lags = await loop_lag(busy, 60.0)
    await busy
    await database.close()
    await engine.close()
    directory.cleanup()
    return idle, lags


async def _writer() -> tuple[
    GuardrailEngine, ContentWriter, Database, tempfile.TemporaryDirectory[str]
]:
    settings = parse_settings(
        "guardrails: {checks: {pii: {type: pii, action: redact}, secrets: {type: secrets}}}"
    )
    engine = GuardrailEngine(settings.guardrails)
    await engine.start()
    directory = tempfile.TemporaryDirectory()
    database = Database(URL.create("sqlite+aiosqlite", database=f"{directory.name}/c.db"))
    await database.start()
    writer = ContentWriter(database, Scrubber(engine, ["pii", "secrets"]), {"red": 30})
    writer.put(capture(10, random.Random(1)))
    await writer.flush()  # warm: models loaded, first insert done
    return engine, writer, database, directory


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def writer_cost(words: int, captures: int) -> tuple[float, float]:
    settings = parse_settings(
        "guardrails: {checks: {pii: {type: pii, action: redact}, secrets: {type: secrets}}}"
    )
    engine = GuardrailEngine(settings.guardrails)
    await engine.start()
    rng = random.Random(7)
    batch = [capture(words, rng) for _ in range(captures)]
    with tempfile.TemporaryDirectory() as directory:
        database = Database(URL.create("sqlite+aiosqlite", database=f"{directory}/c.db"))
        await database.start()
        writer = ContentWriter(database, Scrubber(engine, ["pii", "secrets"]), {"red": 30})
        writer.put(batch[0])
        await writer.flush()  # warm: models loaded, first insert done
        for item in batch:
            writer.put(item)
        started, wall = time.process_time(), time.perf_counter()
        await writer.flush()
        cpu, elapsed = time.process_time() - started, time.perf_counter() - wall
        assert writer.written == captures + 1
        await database.close()
    await engine.close()
    return cpu / captures * 1e6, captures / elapsed


def off_path(captures: int) -> None:
    print(f"writer (redact + insert, SQLite): captures={captures}")
    for words in (100, 1000):
        cpu_us, rate = asyncio.run(writer_cost(words, captures))
        per = f"{cpu_us / 1000:6.2f} ms CPU per capture"
        print(f"  {words:>4}-word prompt: {per}, {rate:6.0f} captures/s")


def lag(captures: int) -> None:
    idle, busy = asyncio.run(lag_while_redacting(100, captures))
    print("event-loop lag (a 1 ms sleep woken late by), ms: p50 / p99 / max")
    for name, lags in (("idle", idle), ("writer redacting", busy)):
        p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
        print(f"  {name:<17} {p50:6.2f} / {p99:6.2f} / {max(lags):6.2f}  ({len(lags)} samples)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--captures", type=int, default=200)
    args = parser.parse_args()
    hot_path(args.calls, args.repeat)
    off_path(args.captures)
    lag(args.captures)


if __name__ == "__main__":
    main()
