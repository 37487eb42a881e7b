"""The engine generating from a real GGUF model (stories260K) in its worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.engine.models import stories
from tripoint.engine import (
    ChatTurn,
    Engine,
    EngineBusyError,
    Generation,
    InputTooLongError,
    InvalidGenerationError,
    Kind,
    ModelLoadError,
    ModelSpec,
    Piece,
)

# What llama.cpp's greedy decoding of stories260K gives (see ../shared/models/README.md).
ONCE = ", there was a little girl named Lily. She loved to play outside in the park."


async def started(*specs: ModelSpec, eager: bool = True) -> Engine:
    engine = Engine(specs, eager=eager)
    await engine.start()
    return engine


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll a condition the worker threads make true (they cannot set an asyncio.Event)."""
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    spec = ModelSpec(
        "stories", stories(), Kind.GENERATE, max_tokens=2000, queue=1, stream_interval=0
    )
    engine = await started(spec)
    yield engine
    await engine.close()


async def collect(engine: Engine, generation: Generation) -> list[Piece]:
    return [piece async for piece in engine.generate("stories", generation)]


async def test_loads_at_start_and_reports_ready(engine: Engine) -> None:
    await until(engine.ready)

    assert engine.states() == {"stories": "ready"}


async def test_greedy_generation_is_the_known_story(engine: Engine) -> None:
    pieces = await collect(engine, Generation("Once upon a time", max_tokens=20, temperature=0))

    text = "".join(p.text for p in pieces)
    assert text == ", there was a little girl named Lily. She loved to play outsid"
    assert len(pieces) > 5  # streamed as produced, not as one block
    assert pieces[-1].finish_reason == "length"
    assert (pieces[-1].prompt_tokens, pieces[-1].completion_tokens) == (5, 20)


async def test_greedy_generation_is_deterministic(engine: Engine) -> None:
    request = Generation("Once upon a time", max_tokens=30, temperature=0)

    first = "".join(p.text for p in await collect(engine, request))
    second = "".join(p.text for p in await collect(engine, request))

    assert first == second


async def test_stop_string_ends_the_answer_before_it(engine: Engine) -> None:
    pieces = await collect(
        engine, Generation("Once upon a time", max_tokens=50, temperature=0, stop=("Lily",))
    )

    assert "".join(p.text for p in pieces) == ", there was a little girl named "
    assert pieces[-1].finish_reason == "stop"


async def test_chat_turns_use_the_fallback_template(engine: Engine) -> None:
    turns = (ChatTurn("system", "Tell a story."), ChatTurn("user", "A cat"))

    pieces = await collect(engine, Generation(turns, max_tokens=8, temperature=0))

    assert pieces[-1].completion_tokens == 8
    assert pieces[-1].prompt_tokens > 10  # the llama-2 format wraps the turns


async def test_refuses_max_tokens_over_the_model_limit(engine: Engine) -> None:
    with pytest.raises(InvalidGenerationError, match="at most 2000"):
        await collect(engine, Generation("Once", max_tokens=2001))


async def test_refuses_a_prompt_longer_than_the_context() -> None:
    spec = ModelSpec("stories", stories(), Kind.GENERATE, context=32)
    engine = await started(spec)
    try:
        with pytest.raises(InputTooLongError, match="context is 32"):
            await collect(engine, Generation("Once upon a time " * 20))
    finally:
        await engine.close()


async def test_closing_the_stream_stops_the_generation(engine: Engine) -> None:
    stream = engine.generate("stories", Generation("Once upon a time", max_tokens=2000))
    await anext(stream)
    await anext(stream)

    await stream.aclose()

    await until(lambda: engine.stats("stories").running == 0)
    assert engine.stats("stories").stopped == 1
    assert engine.stats("stories").completed == 0


async def test_a_full_queue_refuses_more_requests(engine: Engine) -> None:
    long = Generation("Once upon a time", max_tokens=2000)
    running = engine.generate("stories", long)
    waiting = engine.generate("stories", long)
    await anext(running)
    waiting_task = asyncio.ensure_future(anext(waiting))
    await asyncio.sleep(0.05)

    with pytest.raises(EngineBusyError, match="busy"):
        await collect(engine, long)

    waiting_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting_task
    await running.aclose()


async def test_missing_file_is_not_ready_then_loads_once_present(tmp_path: Path) -> None:
    path = tmp_path / "later.gguf"
    engine = await started(ModelSpec("stories", path, Kind.GENERATE))
    try:
        await until(lambda: engine.states()["stories"].startswith("failed"))
        assert not engine.ready()
        with pytest.raises(ModelLoadError, match="does not exist"):
            await collect(engine, Generation("Once", max_tokens=2))

        path.write_bytes(stories().read_bytes())
        pieces = await collect(engine, Generation("Once", max_tokens=2, temperature=0))

        assert pieces[-1].completion_tokens == 2
        assert engine.ready()
    finally:
        await engine.close()


async def test_lazy_model_loads_on_first_use() -> None:
    engine = await started(ModelSpec("stories", stories(), Kind.GENERATE), eager=False)
    try:
        assert engine.states() == {"stories": "lazy"}
        assert engine.ready()  # nothing to wait for: the file is there

        await collect(engine, Generation("Once", max_tokens=2))

        assert engine.states() == {"stories": "ready"}
    finally:
        await engine.close()


async def test_runs_requests_on_two_instances_at_once() -> None:
    spec = ModelSpec("stories", stories(), Kind.GENERATE, instances=2, queue=0)
    engine = await started(spec)
    try:
        await until(engine.ready)
        request = Generation("Once upon a time", max_tokens=40, temperature=0)

        answers = await asyncio.gather(collect(engine, request), collect(engine, request))

        texts = {"".join(p.text for p in pieces) for pieces in answers}
        assert len(texts) == 1
        assert texts.pop().startswith(ONCE)
    finally:
        await engine.close()


def test_loading_several_instances_keeps_the_process_output() -> None:
    script = f"""
import asyncio
from pathlib import Path
from tripoint.engine import Engine, Kind, ModelSpec

async def main():
    engine = Engine([ModelSpec("s", Path({str(stories())!r}), Kind.GENERATE, instances=4)])
    await engine.start()
    while not engine.ready():
        await asyncio.sleep(0.01)
    await engine.close()
    print("still-visible", flush=True)

asyncio.run(main())
"""

    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, timeout=120
    )

    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b"still-visible" in done.stdout


async def test_interactive_requests_go_before_queued_background_work() -> None:
    spec = ModelSpec("stories", stories(), Kind.GENERATE, queue=8)
    engine = await started(spec)
    try:
        await until(engine.ready)
        finished: list[str] = []

        async def run(name: str, tokens: int, *, background: bool) -> None:
            request = Generation("Once upon a time", max_tokens=tokens, temperature=0)
            async for _ in engine.generate("stories", request, background=background):
                pass
            finished.append(name)

        busy = asyncio.ensure_future(run("busy", 300, background=False))
        await until(lambda: engine.stats("stories").running == 1)
        batch = [asyncio.ensure_future(run(f"batch{i}", 5, background=True)) for i in range(3)]
        await asyncio.sleep(0.05)  # the background work is queued first
        user = asyncio.ensure_future(run("user", 5, background=False))
        await asyncio.gather(busy, user, *batch)

        assert finished[:2] == ["busy", "user"]
        assert sorted(finished[2:]) == ["batch0", "batch1", "batch2"]
    finally:
        await engine.close()


async def test_tokens_close_together_are_sent_together_with_the_same_text() -> None:
    each = ModelSpec("stories", stories(), Kind.GENERATE, stream_interval=0)
    bundled = ModelSpec("bundled", stories(), Kind.GENERATE, stream_interval=10.0)
    engine = await started(each, bundled)
    try:
        request = Generation("Once upon a time", max_tokens=40, temperature=0)

        alone = [p async for p in engine.generate("stories", request)]
        together = [p async for p in engine.generate("bundled", request)]

        assert "".join(p.text for p in alone) == "".join(p.text for p in together)
        assert len(together) == 2  # the first token at once, the rest with the finish
        assert len(alone) > 30
    finally:
        await engine.close()
