"""The revocation push channel on a real PostgreSQL: announcements arrive when, and only if,
their transaction commits; a listener whose connection dies reconnects and drops everything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.postgres import PostgresServer
from tripoint.auth.broadcast import CHANNEL, EVERYTHING, Listener, Notify
from tripoint.errors import ServiceUnavailableError
from tripoint.storage.database import Database


@pytest.fixture
def dsn(postgres: PostgresServer) -> str:
    return postgres.create_database()


@pytest.fixture
async def database(dsn: str) -> AsyncIterator[Database]:
    url = make_url(dsn).set(drivername="postgresql+asyncpg")
    database = Database(url)
    await database.start()
    yield database
    await database.close()


@pytest.fixture
async def heard(database: Database) -> AsyncIterator[tuple[Listener, list[str]]]:
    payloads: list[str] = []
    listener = Listener(
        database.driver_dsn(), payloads.append, connect_timeout=5, heartbeat=0.2, max_backoff=0.5
    )
    await listener.start()
    yield listener, payloads
    await listener.close()


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 -- the condition is the listener's, not an event
            await asyncio.sleep(0.02)


async def test_an_announcement_arrives_on_commit_and_never_on_rollback(
    database: Database, heard: tuple[Listener, list[str]]
) -> None:
    listener, payloads = heard
    assert listener.listening.is_set()
    payloads.clear()  # the "drop everything" of connecting

    async def failing_change() -> None:
        async with database.session() as session:
            await Notify().announce(session, "key_rolledback")
            await session.execute(text("SELECT 1/0"))  # the change fails: nothing is told

    with pytest.raises(ServiceUnavailableError):
        await failing_change()
    async with database.session() as session:
        await Notify().announce(session, "key_committed")
        await Notify().announce(session, None)

    await until(lambda: len(payloads) == 2)
    await asyncio.sleep(0.2)  # a late rolled-back announcement would land by now
    assert payloads == ["key_committed", EVERYTHING]


async def test_a_killed_connection_is_reopened_and_drops_everything(
    database: Database, heard: tuple[Listener, list[str]]
) -> None:
    listener, payloads = heard
    payloads.clear()

    connection = await asyncpg.connect(database.driver_dsn())
    try:
        killed = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query = $1 AND pid <> pg_backend_pid()",
            f'LISTEN "{CHANNEL}"',
        )
        await until(lambda: listener.connections == 2)
        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, "key_after")
    finally:
        await connection.close()

    await until(lambda: "key_after" in payloads)
    assert killed == 1
    assert payloads[0] == EVERYTHING  # what it missed while down is unknown: forget it all
