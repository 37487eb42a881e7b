"""Stop working for a client that has gone: race the work against the client's disconnect.

Without this a non-streaming call (or a stream still waiting for its first chunk) would keep
an upstream GPU busy for a client that already left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import suppress
from typing import TypeVar

from starlette.types import Receive

from tripoint.errors import ClientClosedError

T = TypeVar("T")


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """`await work`, unless the client disconnects first: then cancel it and raise."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await _cancel(task, watcher)
        raise
    if task.done():
        watcher.cancel()
        return task.result()
    await _cancel(task, watcher)
    raise ClientClosedError("the client closed the connection before the answer was ready")


async def _cancel(task: asyncio.Future[T], watcher: asyncio.Future[None]) -> None:
    """Cancel both and wait for the work to unwind, so its cleanup has run on return."""
    task.cancel()
    watcher.cancel()
    with suppress(asyncio.CancelledError, Exception):
        await task


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
