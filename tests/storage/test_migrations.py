"""The SQL store: migrated on start and by `tripoint db upgrade`, identical on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

import tripoint.auth.tables
import tripoint.batch.tables
import tripoint.capture.tables
import tripoint.ledger.tables  # noqa: F401 -- registers the ledger, capture and batch tables
from tests.auth.conftest import DATABASES, database_dsn
from tripoint.cli import main
from tripoint.config import parse_settings
from tripoint.errors import ConfigError
from tripoint.storage import Base, Database, database_url
from tripoint.storage.migrate import current_revision


@pytest.fixture(params=DATABASES)
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_dsn(request.param, request, tmp_path)


def _database(dsn: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("TRIPOINT_TEST_DSN", dsn)
    return Database.from_settings(parse_settings("storage: {url: env:TRIPOINT_TEST_DSN}"))


async def test_migrations_build_exactly_the_declared_tables(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = _database(dsn, monkeypatch)

    await database.start()
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
        revision = await connection.run_sync(current_revision)
    await database.close()

    assert differences == []
    assert revision == "0006_batches"  # the newest migration


async def test_migrating_twice_and_concurrently_is_harmless(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicas = [_database(dsn, monkeypatch) for _ in range(3)]

    if dsn.startswith("postgresql"):
        await asyncio.gather(*(r.start() for r in replicas))
    else:  # SQLite: one file, one writer at a time
        for replica in replicas:
            await replica.start()
    await replicas[0].migrate()
    async with replicas[0].engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    for replica in replicas:
        await replica.close()

    assert {"orgs", "teams", "users", "api_keys", "admin_audit", "alembic_version"} <= tables


def test_db_upgrade_command_migrates_the_configured_database(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tripoint.yaml"
    config.write_text("storage: {url: env:TRIPOINT_TEST_DSN}\n")
    monkeypatch.setenv("TRIPOINT_TEST_DSN", dsn)

    result = CliRunner().invoke(main, ["db", "upgrade", "--config", str(config)])

    assert result.exit_code == 0, result.output
    assert "newest revision" in result.output
    assert (
        dsn.split("@", maxsplit=1)[0].rsplit(":", maxsplit=1)[-1] not in result.output
    )  # never the password


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    url = database_url(parse_settings(f"server: {{data_dir: {tmp_path}}}"))

    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == str(tmp_path / "tripoint.db")


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@db/x", "postgresql+asyncpg"),
        ("postgres://u:p@db/x", "postgresql+asyncpg"),
        ("sqlite:////var/lib/t.db", "sqlite+aiosqlite"),
    ],
)
def test_storage_url_gets_its_async_driver(
    given: str, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_DSN", given)

    url = database_url(parse_settings("storage: {url: env:TRIPOINT_TEST_DSN}"))

    assert url.drivername == driver
    assert url.render_as_string(hide_password=False) == str(
        make_url(given).set(drivername=driver).render_as_string(hide_password=False)
    )


def test_unsupported_database_is_a_config_error_that_hides_the_dsn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_DSN", "mysql://u:hunter2@db/x")

    with pytest.raises(ConfigError) as caught:
        database_url(parse_settings("storage: {url: env:TRIPOINT_TEST_DSN}"))

    assert "storage.url: unsupported database" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_storage_url_must_be_a_reference_not_a_literal() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("storage: {url: 'postgresql://u:hunter2@db/x'}")

    assert "hunter2" not in str(caught.value)


async def test_an_unreachable_database_is_503_not_a_traceback(tmp_path: Path) -> None:
    from sqlalchemy import text

    from tripoint.errors import ServiceUnavailableError
    from tripoint.storage.database import URL

    database = Database(URL.create("postgresql+asyncpg", host="127.0.0.1", port=9, database="x"),
                        connect_timeout=1)  # fmt: skip

    with pytest.raises(ServiceUnavailableError):
        async with database.session() as session:
            await session.execute(text("SELECT 1"))
    assert await database.ping() is False
    await database.close()


def test_a_short_pepper_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_PEPPER", "short")

    with pytest.raises(ConfigError) as caught:
        parse_settings("auth: {pepper: env:TRIPOINT_TEST_PEPPER}")

    assert "auth.pepper" in str(caught.value)
    assert "short" not in str(caught.value).replace("at least", "")


async def test_upgrading_a_populated_database_keeps_rows_references_and_frees_deleted_names(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select, update

    from tripoint.auth.tables import KeyRow, OrgRow, TeamRow, UserRow
    from tripoint.errors import ConflictError
    from tripoint.storage.migrate import upgrade

    database = _database(dsn, monkeypatch)
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:  # a database as the first wave left it
        await connection.run_sync(lambda c: upgrade(c, "0002_call_ledger"))
        for statement in _rows_of_0002(now):
            await connection.execute(statement)

    await database.migrate()
    async with database.session() as session:
        key = (await session.execute(select(KeyRow.id, KeyRow.team_id, KeyRow.user_id))).one()
        await session.execute(update(TeamRow).values(deleted_at=now))
        session.add(TeamRow(id="team_2", org_id="org_1", name="search", models=None, meta={}))
    with pytest.raises(ConflictError):  # a second living "search" is refused
        async with database.session() as session:
            session.add(TeamRow(id="team_3", org_id="org_1", name="search", models=None, meta={}))
    async with database.session() as session:
        users = (await session.scalars(select(UserRow.email))).all()
        orgs = (await session.scalars(select(OrgRow.name))).all()
    await database.close()

    assert tuple(key) == ("key_1", "team_1", "user_1")
    assert (users, orgs) == (["dev@acme.example"], ["acme"])


def _rows_of_0002(now: object) -> list[Any]:
    from sqlalchemy import JSON, column, insert, table

    from tripoint.storage.base import UtcDateTime

    def typed(name: str, value: object) -> Any:
        kind = (
            JSON() if isinstance(value, dict) else UtcDateTime() if name.endswith("_at") else None
        )
        return column(name, kind)

    def row(table_name: str, /, **values: object) -> Any:
        columns = (typed(k, v) for k, v in values.items())
        return insert(table(table_name, *columns)).values(**values)

    return [
        row("orgs", id="org_1", name="acme", created_at=now),
        row("teams", id="team_1", org_id="org_1", name="search", models=None, metadata={},
            created_at=now),
        row("users", id="user_1", team_id="team_1", email="dev@acme.example", role="member",
            created_at=now),
        row("api_keys", id="key_1", digest="d" * 64, prefix="tk-abcde", last4="wxyz",
            team_id="team_1", user_id="user_1", role="member", metadata={},
            created_by="test", created_at=now),
    ]  # fmt: skip
