"""The last flush of a background writer at shutdown: its task stopped, then what it still
holds written, retried while the database is briefly away."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from tripoint.errors import TripointError

ATTEMPTS = 20
PAUSE = 0.25  # seconds between attempts: 5 s in all, inside the shutdown grace


async def stop_and_flush(
    task: asyncio.Task[None] | None, flush: Callable[[], Awaitable[object]]
) -> bool:
    """Cancel the writer's loop, then flush; False when the database never took it."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for _ in range(ATTEMPTS):
        try:
            await flush()
        except TripointError:
            await asyncio.sleep(PAUSE)
            continue
        return True
    return False
