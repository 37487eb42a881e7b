"""Which batch store a gateway gets: the SQL store on PostgreSQL, else the embedded one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tripoint.batch.disk import DiskFileStore
from tripoint.batch.runner import BatchRunner
from tripoint.batch.sql import SqlBatchStore
from tripoint.batch.sqlfiles import SqlFileStore
from tripoint.batch.sqlite import SqliteBatchStore
from tripoint.config import parse_settings
from tripoint.gateway.assembly import assemble
from tripoint.storage.database import Database


def runner(tmp_path: Path, extra: str) -> BatchRunner:
    settings = parse_settings(f"server: {{data_dir: {tmp_path}}}\n{extra}")
    found = assemble(settings).component("batches")
    assert isinstance(found, BatchRunner)
    return found


def test_the_embedded_default_is_sqlite_and_files_on_disk(tmp_path: Path) -> None:
    chosen = runner(tmp_path, "")

    assert isinstance(chosen.batches, SqliteBatchStore)
    assert isinstance(chosen.files, DiskFileStore)


def test_a_postgresql_storage_url_puts_batches_and_files_in_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_DSN", "postgresql://u:p@127.0.0.1:1/db")

    chosen = runner(tmp_path, "storage: {url: env:TRIPOINT_TEST_DSN}")

    assert isinstance(chosen.batches, SqlBatchStore)
    assert isinstance(chosen.files, SqlFileStore)


def test_batch_store_setting_overrides_the_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_DSN", "postgresql://u:p@127.0.0.1:1/db")

    embedded = runner(tmp_path, "storage: {url: env:TRIPOINT_TEST_DSN}\nbatch: {store: embedded}")
    database = runner(tmp_path, "batch: {store: database}")

    assert isinstance(embedded.batches, SqliteBatchStore)
    assert isinstance(database.batches, SqlBatchStore)  # SQLite in the data dir, migrated


def test_the_sql_store_shares_the_gateways_one_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIPOINT_TEST_DSN", "postgresql://u:p@127.0.0.1:1/db")
    settings = parse_settings(
        f"server: {{data_dir: {tmp_path}}}\nstorage: {{url: env:TRIPOINT_TEST_DSN}}"
    )

    gateway = assemble(settings)

    assert sum(isinstance(c, Database) for c in gateway.components) == 1
