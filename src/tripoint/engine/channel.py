"""Items from a worker thread to one asyncio consumer, with wake-ups coalesced.

A token is produced far more often than the event loop needs waking: the producer wakes the
loop only when the consumer has drained everything, so a burst costs one wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Channel(Generic[T]):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._signalled = False  # a wake-up is scheduled and not yet drained
        self._ready = asyncio.Event()

    def put(self, item: T) -> None:
        """From any thread."""
        with self._lock:
            self._items.append(item)
            wake = not self._signalled
            self._signalled = True
        if wake:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to read
                self._loop.call_soon_threadsafe(self._ready.set)

    async def take(self) -> list[T]:
        """Everything produced so far, waiting until there is something. On the loop only."""
        while True:
            with self._lock:
                if self._items:
                    items = list(self._items)
                    self._items.clear()
                    self._signalled = False
                    return items
                self._ready.clear()
            await self._ready.wait()
