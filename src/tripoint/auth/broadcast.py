"""Pushed cache invalidation between replicas: PostgreSQL NOTIFY in the changing transaction,
LISTEN on every replica.

An admin change (revoke, rotate, delete, narrow) announces itself with `pg_notify` inside the
transaction that makes it, so PostgreSQL delivers it when, and only if, that transaction
commits, to every replica listening on the channel (the CLI's changes included). A replica
drops what it cached and reads the row again on the next call. The push is the fast path;
`auth.key_cache_ttl` stays the bound: while a replica's listening connection is down it
misses announcements, and its cached entries still expire within the TTL. On (re)connecting
it drops its whole cache, since it cannot know what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import asyncpg  # type: ignore[import-untyped]  # no stubs; used at this one seam
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("tripoint.auth")

CHANNEL = "tripoint_auth"
EVERYTHING = "*"  # the payload that drops every cached entry; else the payload is a key id


class Announcer(Protocol):
    async def announce(self, session: AsyncSession, key_id: str | None) -> None:
        """Tell every replica, on commit, that this key (None: anything) changed."""


class Quiet:
    """SQLite: one process owns the file, there is nobody to tell."""

    async def announce(self, session: AsyncSession, key_id: str | None) -> None:
        return None


class Notify:
    async def announce(self, session: AsyncSession, key_id: str | None) -> None:
        # The payload is an id, never a key or its digest; delivered only if this commits.
        await session.execute(select(func.pg_notify(CHANNEL, key_id or EVERYTHING)))


class Listener:
    """One dedicated asyncpg connection per replica, LISTENing; reconnects with backoff and
    pings every `heartbeat` seconds, so a silently dead connection is noticed."""

    def __init__(
        self,
        dsn: str,
        deliver: Callable[[str], None],
        *,
        connect_timeout: float,
        heartbeat: float = 5.0,
        max_backoff: float = 30.0,
    ) -> None:
        self._dsn = dsn  # holds the password: never logged
        self._deliver = deliver
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.connections = 0  # how many times it (re)connected; for tests and logs

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="auth-listener")
        # Wait for the first connection a little: a replica that is ready should be listening.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), self._connect_timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._listen()
                backoff = 0.5
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning(
                    "revocation push channel down; key_cache_ttl bounds revocations meanwhile",
                    extra={"error": type(exc).__name__, "retry_in": backoff},
                )
            self.listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _listen(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._on_notify)
            self.connections += 1
            self._deliver(EVERYTHING)  # whatever was announced while we were away is unknown
            self.listening.set()
            log.info("listening for revocations", extra={"channel": CHANNEL})
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._heartbeat)
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=self._connect_timeout)
            raise ConnectionResetError("the listening connection was closed")
        finally:
            with contextlib.suppress(OSError, TimeoutError, asyncpg.InterfaceError):
                await asyncio.wait_for(connection.close(), 1)
            if not connection.is_closed():
                connection.terminate()

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self._deliver(payload)
