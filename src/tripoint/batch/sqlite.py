"""Batch state in one SQLite file (the embedded default): jobs, and one row per input line.

A line's row holds its lease and, once, its result: the result is written only under the
line's latest lease and only while it has none, so a line re-run after a crash keeps exactly one
result. Every lease is one UPDATE statement, atomic in SQLite across processes. Calls run in a
thread, one at a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tripoint.batch.records import (
    ACTIVE,
    BatchJob,
    InputLine,
    Lease,
    LineResult,
    dump_job,
    load_job,
)

Row = tuple[Any, ...]  # what sqlite3 hands back; typed by the queries that read it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL,
  created_at INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_lines (
  batch_id TEXT NOT NULL, line INTEGER NOT NULL, custom_id TEXT NOT NULL, raw BLOB NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0, worker TEXT, lease_until REAL NOT NULL DEFAULT 0,
  sealed INTEGER NOT NULL DEFAULT 0, ok INTEGER, body BLOB, PRIMARY KEY (batch_id, line)
);
CREATE INDEX IF NOT EXISTS batch_lines_open ON batch_lines (batch_id, line) WHERE ok IS NULL;
CREATE TABLE IF NOT EXISTS batch_claims (
  batch_id TEXT PRIMARY KEY, worker TEXT NOT NULL, until REAL NOT NULL
);
"""
_LEASE = """
UPDATE batch_lines SET worker = ?, lease_until = ?, attempt = attempt + 1
WHERE rowid IN (
  SELECT rowid FROM batch_lines WHERE batch_id = ? AND ok IS NULL AND sealed = 0
  AND lease_until < ? ORDER BY line LIMIT ?
) AND EXISTS (SELECT 1 FROM batch_jobs WHERE id = ? AND status = 'in_progress')
RETURNING custom_id, line, raw, attempt
"""
_OPEN = "batch_id = ? AND line = ? AND attempt = ? AND ok IS NULL AND sealed = 0"


class SqliteBatchStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None  # opened on first use: a gateway that
        self._lock = threading.Lock()  # never sees a batch writes nothing

    async def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self._path, check_same_thread=False, isolation_level=None, timeout=10
            )
            db.execute("PRAGMA journal_mode=WAL")
            # A commit survives a killed process without an fsync each (WAL); only a power
            # loss may drop the last results, which then run again: never duplicated.
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def create(self, job: BatchJob) -> None:
        await self._run(
            "INSERT INTO batch_jobs VALUES (?, ?, ?, ?, ?)",
            (job.id, job.owner, job.status, job.created_at, dump_job(job)),
        )

    async def get(self, batch_id: str, owner: str | None = None) -> BatchJob | None:
        rows = await self._query("SELECT owner, body FROM batch_jobs WHERE id = ?", (batch_id,))
        if not rows or (owner is not None and rows[0][0] != owner):
            return None
        return load_job(rows[0][1])

    async def owned(self, owner: str) -> list[BatchJob]:
        rows = await self._query(
            "SELECT body FROM batch_jobs WHERE owner = ? ORDER BY created_at DESC, rowid DESC",
            (owner,),
        )
        return [load_job(row[0]) for row in rows]

    async def save(self, job: BatchJob, *, expect: str) -> bool:
        changed = await self._run(
            "UPDATE batch_jobs SET status = ?, body = ? WHERE id = ? AND status = ?",
            (job.status, dump_job(job), job.id, expect),
        )
        return changed == 1

    async def claim(self, batch_id: str, worker: str, ttl: float) -> bool:
        now = time.time()
        changed = await self._run(
            "INSERT INTO batch_claims SELECT ?, ?, ? WHERE EXISTS"
            " (SELECT 1 FROM batch_jobs WHERE id = ?) ON CONFLICT (batch_id) DO UPDATE"
            " SET worker = excluded.worker, until = excluded.until"
            " WHERE batch_claims.until < ? OR batch_claims.worker = excluded.worker",
            (batch_id, worker, now + ttl, batch_id, now),
        )
        return changed == 1

    async def release(self, batch_id: str, worker: str) -> None:
        await self._run(
            "DELETE FROM batch_claims WHERE batch_id = ? AND worker = ?", (batch_id, worker)
        )

    async def begin(self, job: BatchJob, rows: Sequence[InputLine]) -> bool:
        def begin() -> bool:
            with self._lock:
                db = self._connection()
                db.execute("BEGIN IMMEDIATE")
                try:
                    moved = db.execute(
                        "UPDATE batch_jobs SET status = ?, body = ? WHERE id = ? AND status = ?",
                        (job.status, dump_job(job), job.id, "validating"),
                    ).rowcount
                    if moved == 1:
                        db.executemany(
                            "INSERT OR IGNORE INTO batch_lines (batch_id, line, custom_id, raw)"
                            " VALUES (?, ?, ?, ?)",
                            ((job.id, r.line, r.custom_id, r.raw) for r in rows),
                        )
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return moved == 1

        return await asyncio.to_thread(begin)

    async def lease(self, batch_id: str, worker: str, ttl: float, limit: int = 1) -> list[Lease]:
        now = time.time()
        rows = await self._query(_LEASE, (worker, now + ttl, batch_id, now, limit, batch_id))
        leases = [Lease(batch_id, r[0], r[1], bytes(r[2]), r[3]) for r in rows]
        return sorted(leases, key=lambda lease: lease.line)  # RETURNING keeps no order

    async def renew(self, leases: Sequence[Lease], ttl: float) -> None:
        until = time.time() + ttl
        await self._many(
            f"UPDATE batch_lines SET lease_until = ? WHERE {_OPEN}",  # noqa: S608 -- constant
            [(until, x.batch_id, x.line, x.attempt) for x in leases],
        )

    async def drop(self, leases: Sequence[Lease]) -> None:
        await self._many(
            f"UPDATE batch_lines SET lease_until = 0 WHERE {_OPEN}",  # noqa: S608 -- constant
            [(x.batch_id, x.line, x.attempt) for x in leases],
        )

    async def record(self, lease: Lease, result: LineResult) -> bool:
        changed = await self._run(
            f"UPDATE batch_lines SET ok = ?, body = ? WHERE {_OPEN}",  # noqa: S608 -- constant
            (int(result.ok), result.body, lease.batch_id, lease.line, lease.attempt),
        )
        return changed == 1

    async def open_lines(self, batch_id: str) -> tuple[int, int]:
        rows = await self._query(
            "SELECT count(*), coalesce(sum(lease_until >= ?), 0) FROM batch_lines"
            " WHERE batch_id = ? AND ok IS NULL AND sealed = 0",
            (time.time(), batch_id),
        )
        return int(rows[0][0]), int(rows[0][1])

    async def seal(self, batch_id: str) -> None:
        await self._run(
            "UPDATE batch_lines SET sealed = 1 WHERE batch_id = ? AND ok IS NULL", (batch_id,)
        )

    async def tally(self, batch_id: str) -> tuple[int, int]:
        rows = await self._query(
            "SELECT ok, count(*) FROM batch_lines WHERE batch_id = ? AND ok IS NOT NULL"
            " GROUP BY ok",
            (batch_id,),
        )
        counts = {bool(ok): int(n) for ok, n in rows}
        return counts.get(True, 0), counts.get(False, 0)

    async def active(self) -> list[BatchJob]:
        if self._db is None and not self._path.exists():
            return []  # nothing was ever submitted here
        marks = ",".join("?" * len(ACTIVE))
        rows = await self._query(
            f"SELECT body FROM batch_jobs WHERE status IN ({marks}) ORDER BY created_at, rowid",  # noqa: S608 -- placeholders only
            ACTIVE,
        )
        return [load_job(row[0]) for row in rows]

    async def results(self, batch_id: str) -> list[LineResult]:
        rows = await self._query(
            "SELECT custom_id, line, ok, body FROM batch_lines"
            " WHERE batch_id = ? AND ok IS NOT NULL ORDER BY line",
            (batch_id,),
        )
        return [LineResult(r[0], r[1], bool(r[2]), bytes(r[3])) for r in rows]

    async def _run(self, sql: str, args: tuple[object, ...]) -> int:
        def run() -> int:
            with self._lock:
                return self._connection().execute(sql, args).rowcount

        return await asyncio.to_thread(run)

    async def _many(self, sql: str, args: list[tuple[object, ...]]) -> None:
        if not args:
            return

        def run() -> None:
            with self._lock:
                db = self._connection()
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(sql, args)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")

        await asyncio.to_thread(run)

    async def _query(self, sql: str, args: tuple[object, ...]) -> list[Row]:
        def query() -> list[Row]:
            with self._lock:
                return list(self._connection().execute(sql, args).fetchall())

        return await asyncio.to_thread(query)
