"""Stop working for a client that has gone: race the work against the client's disconnect.

Without this a non-streaming call (or a stream still waiting for its first chunk) would keep
an upstream GPU busy for a client that already left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.types import Receive

from tripoint.errors import ClientClosedError

T = TypeVar("T")


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """`await work`, unless the client disconnects first: then cancel it and raise.

    The work runs in the calling task (a task of its own and `asyncio.wait` cost more than
    the rest of a fast call's edge); one watcher task cancels the caller when the client goes,
    so the work's cleanup has run by the time this raises.
    """
    caller = asyncio.current_task()
    if caller is None:  # pragma: no cover -- always called from a task
        raise RuntimeError("unless_disconnected needs a running task")
    watcher = asyncio.get_running_loop().create_task(_disconnect(receive))
    waiting = True
    gone = False

    def on_watcher_done(done: asyncio.Task[None]) -> None:
        nonlocal gone
        if done.cancelled():
            return
        done.exception()  # a failing receive counts as a disconnect; retrieved, not logged
        if waiting:  # a done callback may run after the work returned: then it is moot
            gone = True
            caller.cancel()

    watcher.add_done_callback(on_watcher_done)
    try:
        return await work
    except asyncio.CancelledError:
        if gone and caller.uncancel() == 0:  # our cancellation, nobody else's
            raise ClientClosedError(
                "the client closed the connection before the answer was ready"
            ) from None
        raise
    finally:
        waiting = False
        watcher.cancel()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
