"""A small TTL cache with single-flight loading: the hot path's only route to the database.

An entry is served for `ttl` seconds without touching the database; after that it is
reloaded, and if the reload fails the caller gets the loader's error (503), never the stale
entry. That makes `ttl` the documented bound on how long a revocation takes to reach every
replica, and on how long a replica keeps serving while the database is down.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    loaded_at: float


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        loader: Callable[[K], Awaitable[V]],
        *,
        ttl: float,
        max_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._epoch = 0  # bumped by invalidation: a load begun before it must not be kept

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: K) -> V:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.loaded_at < self._ttl:
            return entry.value
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key))
            self._loading[key] = task
            task.add_done_callback(lambda done: self._loaded(key, done))
        # Shielded: one caller giving up must not cancel the load the others wait for.
        return await asyncio.shield(task)

    def invalidate(self, key: K) -> None:
        self._epoch += 1
        self._entries.pop(key, None)
        self._loading.pop(key, None)

    def discard(self, doomed: Callable[[V], bool]) -> None:
        """Drop every entry whose value is doomed (a pushed revocation names an id, not the
        digest the cache is keyed by); loads in flight may predate it, so none is kept."""
        self._epoch += 1
        for key in [key for key, entry in self._entries.items() if doomed(entry.value)]:
            del self._entries[key]
        self._loading.clear()

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()
        self._loading.clear()

    async def _load(self, key: K) -> V:
        started, epoch = self._clock(), self._epoch
        value = await self._loader(key)
        if epoch != self._epoch:
            return value  # invalidated meanwhile: answer this caller, remember nothing
        self._entries[key] = _Entry(value, started)  # aged from before the query ran
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)
        return value

    def _loaded(self, key: K, task: asyncio.Task[V]) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an unawaited failure is not logged as lost
        else:
            self._entries.pop(key, None)
