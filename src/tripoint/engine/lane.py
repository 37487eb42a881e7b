"""One model's lane: worker threads that each own a loaded instance, fed by one request queue.

Inference never runs on the event loop. A request is admitted (or refused when the queue is
full), queued, run by the first free worker, and streams its output back through a Channel.
The caller's cancel flag is checked before a queued request starts and between tokens, so a
client that goes away stops its generation within one token.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from tripoint.engine.channel import Channel
from tripoint.engine.errors import EngineBusyError, EngineClosedError, EngineError, ModelLoadError
from tripoint.engine.spec import ModelSpec

log = logging.getLogger("tripoint.engine")

R = TypeVar("R")  # the loaded model an instance owns
Emit = Callable[[object], None]
Work = Callable[[R, Emit, threading.Event], None]


_INTERACTIVE, _BACKGROUND, _LAST = 0, 1, 2


class _Done:
    """The end of one request's output."""


DONE = _Done()


@dataclass(frozen=True, slots=True)
class Failure:
    error: EngineError


@dataclass(slots=True)
class LaneStats:
    """What the workers did; for readiness pages, metrics and tests."""

    running: int = 0
    completed: int = 0
    stopped: int = 0  # cancelled by the caller (a client that went away) or by shutdown
    failed: int = 0


@dataclass(slots=True)
class Job(Generic[R]):
    work: Work[R]
    channel: Channel[object]
    cancelled: threading.Event = field(default_factory=threading.Event)

    def run(self, runtime: R) -> str:
        """Run in the worker thread; always ends the channel. Returns the outcome."""
        try:
            self.work(runtime, self.channel.put, self.cancelled)
        except EngineError as exc:
            self.channel.put(Failure(exc))
            return "failed"
        except Exception as exc:  # the thread's boundary: report, never die
            log.exception("inference failed", extra={"error": type(exc).__name__})
            self.channel.put(Failure(EngineError(f"inference failed: {type(exc).__name__}")))
            return "failed"
        if self.cancelled.is_set():
            self.channel.put(Failure(EngineClosedError("the generation was stopped")))
            return "stopped"
        self.channel.put(DONE)
        return "completed"


class Lane(Generic[R]):
    def __init__(self, spec: ModelSpec, load: Callable[[ModelSpec], R]) -> None:
        self.spec = spec
        self._load = load
        # (priority, arrival, job): interactive before background, first come first served
        self._jobs: queue.PriorityQueue[tuple[int, int, Job[R] | None]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._threads: list[threading.Thread] = []
        self._admitted = 0  # requests queued or running; touched on the event loop only
        self._active: set[threading.Event] = set()
        self._lock = threading.Lock()
        self.stats = LaneStats()  # written under _lock by the workers
        self._loaded = 0
        self._failure: str | None = None
        self._eager = True
        self._closed = False

    # lifecycle ------------------------------------------------------------------------------
    def start(self, *, eager: bool) -> None:
        self._eager = eager
        for index in range(self.spec.instances):
            thread = threading.Thread(
                target=self._serve, name=f"engine-{self.spec.name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    async def close(self) -> None:
        self._closed = True
        for cancelled in self._active:
            cancelled.set()
        for _ in self._threads:
            self._jobs.put((_LAST, next(self._arrivals), None))
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        self._threads.clear()

    def state(self) -> str:
        """`ready`, `loading`, `failed: why`, or `lazy` (loads on its first request)."""
        with self._lock:
            if self._loaded == self.spec.instances:
                return "ready"
            if self._failure is not None:
                return f"failed: {self._failure}"
        return "loading" if self._eager else "lazy"

    def snapshot(self) -> LaneStats:
        with self._lock:
            return replace(self.stats)

    def ready(self) -> bool:
        state = self.state()
        return state == "ready" or (state == "lazy" and self.spec.path.exists())

    # requests -------------------------------------------------------------------------------
    async def run(self, work: Work[R], *, background: bool = False) -> AsyncGenerator[object, None]:
        """Queue `work` and yield what it emits; closing the iterator cancels it. Background
        work (batch lines) waits while interactive requests are queued."""
        if self._closed:
            raise EngineClosedError("the engine is shutting down")
        if self._admitted >= self.spec.instances + self.spec.queue:
            raise EngineBusyError(
                f"model {self.spec.name!r} is busy: {self._admitted} requests in progress"
            )
        job = Job(work, Channel(asyncio.get_running_loop()))
        self._admitted += 1
        self._active.add(job.cancelled)
        try:
            self._jobs.put((_BACKGROUND if background else _INTERACTIVE, next(self._arrivals), job))
            while True:
                for item in await job.channel.take():
                    if item is DONE:
                        return
                    if isinstance(item, Failure):
                        raise item.error
                    yield item
        finally:
            job.cancelled.set()  # a no-op once finished; stops a generation still running
            self._active.discard(job.cancelled)
            self._admitted -= 1

    # worker thread --------------------------------------------------------------------------
    def _serve(self) -> None:
        runtime = self._try_load() if self._eager else None
        while (job := self._jobs.get()[2]) is not None:
            if job.cancelled.is_set():
                job.channel.put(Failure(EngineClosedError("the request was cancelled")))
                continue
            if runtime is None:
                runtime = self._try_load()  # a failed load is retried: the file may be there now
            if runtime is None:
                job.channel.put(Failure(ModelLoadError(self._failure or "cannot load")))
                continue
            with self._lock:
                self.stats.running += 1
            outcome = job.run(runtime)
            with self._lock:
                self.stats.running -= 1
                setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)

    def _try_load(self) -> R | None:
        try:
            runtime = self._load(self.spec)
        except ModelLoadError as exc:
            with self._lock:
                self._failure = str(exc)
            log.warning("model not loaded", extra={"model": self.spec.name, "error": str(exc)})
            return None
        with self._lock:
            self._loaded += 1
            self._failure = None
        log.info("model loaded", extra={"model": self.spec.name, "path": str(self.spec.path)})
        return runtime
