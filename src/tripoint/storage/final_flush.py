"""The last flush of a background writer at shutdown: its loop asked to stop (and allowed to
finish the batch it is writing), then what it still holds written, retried while the
database is briefly away.

The loop is not cancelled mid-write: a batch whose commit had reached the database when the
cancellation arrived would stay queued and be inserted twice by the final flush.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from tripoint.errors import TripointError

ATTEMPTS = 20
PAUSE = 0.25  # seconds between attempts: 5 s in all, inside the shutdown grace
LOOP_GRACE = 10.0  # seconds the loop may take to finish its batch before it is cancelled


async def stop_and_flush(
    task: asyncio.Task[None] | None,
    stop: Callable[[], None],
    flush: Callable[[], Awaitable[object]],
) -> bool:
    """Ask the writer's loop to `stop`, wait for it, then flush; False when the database
    never took what was left."""
    if task is not None:
        stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), LOOP_GRACE)
        except TimeoutError:  # stuck on a database that does not answer: give up on it
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
