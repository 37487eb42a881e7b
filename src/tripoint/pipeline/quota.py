"""The outbound quota contract: before a target is tried, its backend's own quota (the SaaS
provider's rate limits) is reserved, so the gateway refuses or waits before the provider's 429."""

from __future__ import annotations

from typing import Protocol

from tripoint.pipeline.call import Call
from tripoint.providers.target import Target
from tripoint.schema.chunks import Usage


class QuotaTicket(Protocol):
    """What an acquired quota must be settled with."""


class BackendQuota(Protocol):
    async def acquire(self, call: Call, target: Target) -> QuotaTicket | None:
        """Reserve on the target's backend quota (waiting briefly if it frees soon); None when
        the backend has none. Raises RateLimitError when it stays exhausted."""
        ...

    async def release(self, ticket: QuotaTicket, usage: Usage | None) -> None: ...
