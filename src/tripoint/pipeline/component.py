"""The Component contract: something the gateway owns for its lifetime."""

from __future__ import annotations

from typing import Protocol


class Component(Protocol):
    """Something the gateway owns for its lifetime (a store, a limiter, a worker pool)."""

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        """Readiness: can this component serve now? Shown by `/readyz`."""
        ...
