"""Stages wrap the next stage (Starlette's middleware shape), composed in one loop."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Protocol

from tripoint.pipeline.call import Call
from tripoint.schema.chunks import Chunk

ChunkStream = AsyncGenerator[Chunk, None]
Next = Callable[[Call], ChunkStream]


class Stage(Protocol):
    """One job around the rest of the pipeline. `try/finally` pairs its before and after."""

    def __call__(self, call: Call, call_next: Next) -> ChunkStream: ...


def compose(stages: Sequence[Stage], terminal: Next) -> Next:
    """Wrap `terminal` in `stages`, the first stage outermost."""
    handler = terminal
    for stage in reversed(stages):
        handler = _bind(stage, handler)
    return handler


def _bind(stage: Stage, call_next: Next) -> Next:
    def handler(call: Call) -> ChunkStream:
        return stage(call, call_next)

    return handler
