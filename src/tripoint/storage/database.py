"""The gateway's SQL database: an async engine and session factory, migrated on start.

SQLite (aiosqlite) under `server.data_dir` is the embedded default; a PostgreSQL DSN in
`storage.url` (a secret reference) selects asyncpg. The DSN is never logged: SQLAlchemy's URL
repr masks the password and this module only ever logs the dialect and database name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tripoint.config.defaults import default_data_dir
from tripoint.config.schema import Settings
from tripoint.errors import ConfigError, ConflictError, ServiceUnavailableError
from tripoint.storage.migrate import upgrade

log = logging.getLogger("tripoint.storage")

_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def database_url(settings: Settings) -> URL:
    """The SQLAlchemy URL: `storage.url` with its async driver, else SQLite in the data dir."""
    storage = settings.storage
    if storage is not None and storage.url is not None:
        try:
            url = make_url(storage.url.get_secret_value())
        except ArgumentError:
            raise ConfigError(["storage.url: not a database URL (value not shown)"]) from None
        driver = _DRIVERS.get(url.drivername)
        if driver is None:
            raise ConfigError(
                [f"storage.url: unsupported database {url.drivername!r}; use postgresql or sqlite"]
            )
        return url.set(drivername=driver)
    data_dir = settings.server.data_dir or default_data_dir()
    return URL.create("sqlite+aiosqlite", database=str(data_dir / "tripoint.db"))


class Database:
    """A gateway Component: `start` migrates to head, `session()` opens a unit of work."""

    name = "database"

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        storage = settings.storage
        if storage is None:
            return cls(database_url(settings))
        return cls(
            database_url(settings),
            pool_size=storage.pool_size,
            connect_timeout=storage.connect_timeout,
        )

    def __init__(self, url: URL, *, pool_size: int = 10, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def connect_timeout(self) -> float:
        return self._connect_timeout

    def driver_dsn(self) -> str:
        """The URL as the bare driver takes it (for a dedicated connection, e.g. LISTEN).
        It carries the password: never log it."""
        return self.url.set(drivername=self.dialect).render_as_string(hide_password=False)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> AsyncEngine:
        # hide_parameters: SQL logged at DEBUG or in errors never carries the bound values.
        options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": self._connect_timeout}
        else:
            options["pool_size"] = self._pool_size
            options["connect_args"] = {"timeout": self._connect_timeout}
        engine = create_async_engine(self.url, **options)
        if self.dialect == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        return self._sessions

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on error.

        Driver and connection failures become ServiceUnavailableError (503) here, so no
        SQLAlchemy exception crosses the storage boundary.
        """
        try:
            async with self.sessions.begin() as session:
                yield session
        except IntegrityError:
            raise ConflictError("That conflicts with an existing record.") from None
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("database error", extra={"error": type(exc).__name__})
            raise ServiceUnavailableError("The database is unavailable; try again.") from exc

    async def start(self) -> None:
        await self.migrate()

    async def migrate(self) -> None:
        """Upgrade the schema to the newest revision (idempotent; serialised across replicas)."""
        if self.dialect == "sqlite":
            await self._migrate_sqlite()
        else:
            async with self.engine.begin() as connection:
                # Replicas starting together must not run the same DDL twice.
                await connection.execute(text("SELECT pg_advisory_xact_lock(7340931)"))
                await connection.run_sync(upgrade)
        log.info("database migrated", extra={"dialect": self.dialect})

    async def _migrate_sqlite(self) -> None:
        """SQLite alters a table by copying it, which foreign keys forbid while other tables
        point at it; SQLite's own procedure turns them off (outside a transaction: inside one
        the pragma does nothing), checks them after, and turns them back on."""
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
            try:
                async with connection.begin():
                    await connection.run_sync(upgrade)
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise ConfigError([f"migration left {len(broken)} broken references"])
            finally:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()

    async def ready(self) -> bool:
        """Started and migrated. A database outage does not make the gateway unready: the key
        cache keeps serving for its TTL, and every replica shares the database anyway."""
        return self._engine is not None

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self._connect_timeout), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessions = None


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
