"""The guardrails component: loads the checks at start-up and runs scans on worker threads,
each under its guardrail's timeout, so a slow model never stalls the event loop."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tripoint.config.guardrails import GuardrailSettings
from tripoint.errors import ServiceUnavailableError
from tripoint.guardrails.build import build_guardrails
from tripoint.guardrails.guardrail import Guardrail
from tripoint.guardrails.verdict_cache import SCOPE

T = TypeVar("T")


class GuardrailEngine:
    name = "guardrails"

    def __init__(
        self,
        settings: GuardrailSettings,
        build: Callable[[GuardrailSettings], dict[str, Guardrail]] = build_guardrails,
    ) -> None:
        self._settings = settings
        self._build = build
        self._pool: ThreadPoolExecutor | None = None
        self._guardrails: dict[str, Guardrail] | None = None

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._settings.workers, thread_name_prefix="guardrail")
        loop = asyncio.get_running_loop()
        self._guardrails = await loop.run_in_executor(self._pool, self._build, self._settings)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def ready(self) -> bool:
        return self._guardrails is not None and self._pool is not None

    def get(self, name: str) -> Guardrail:
        if self._guardrails is None:
            raise ServiceUnavailableError("guardrails are not loaded yet")
        return self._guardrails[name]

    async def run(self, limit: float, job: Callable[[], T], *, scope: str = "") -> T:
        """`job()` on a worker thread; TimeoutError after `limit` seconds (it runs on).
        `scope`: whose memoised verdicts the job may reuse (the caller's team)."""
        if self._pool is None:
            raise ServiceUnavailableError("guardrails are not running")
        context = contextvars.copy_context()
        context.run(SCOPE.set, scope)
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._pool, context.run, job), limit)
