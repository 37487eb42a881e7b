"""Stop working for a client that has gone: race the work against the client's disconnect.

Without this a non-streaming call (or a stream still waiting for its first chunk) would keep
an upstream GPU busy for a client that already left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import TracebackType
from typing import TypeVar

from starlette.types import Receive

from tripoint.errors import ClientClosedError

T = TypeVar("T")


class DisconnectWatch:
    """Within it, the client's disconnect cancels the current task; `gone` says it happened.

    The work runs in the calling task (a task of its own, an anyio task group or
    `asyncio.wait` cost more than the rest of a fast call's edge); one watcher task waits for
    the disconnect. The cancellation it caused ends at the block's exit, after the work has
    unwound; anyone else's cancellation propagates.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._caller: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watching = False
        self.gone = False

    async def __aenter__(self) -> DisconnectWatch:
        self._caller = asyncio.current_task()
        self._watcher = asyncio.get_running_loop().create_task(_disconnect(self._receive))
        self._watching = True
        self._watcher.add_done_callback(self._on_disconnect)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        self._watching = False
        if self._watcher is not None:
            self._watcher.cancel()
        if self.gone and self._caller is not None and self._caller.uncancel() == 0:
            return exc_type is asyncio.CancelledError  # ours: swallowed; the caller checks `gone`
        return False

    def _on_disconnect(self, watcher: asyncio.Task[None]) -> None:
        if watcher.cancelled():
            return
        watcher.exception()  # a failing receive counts as a disconnect; retrieved, not logged
        if self._watching and self._caller is not None:  # it may run after the block ended
            self.gone = True
            self._caller.cancel()


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """`await work`, unless the client disconnects first: then cancel it and raise."""
    async with DisconnectWatch(receive):
        return await work
    raise ClientClosedError("the client closed the connection before the answer was ready")


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
