"""Batch state in one SQLite file: jobs and one result row per (batch, custom_id).

The primary key on (batch_id, custom_id) is what makes results exactly-once: a line re-run
after a crash finds its row and keeps the first result. Calls run in a thread, one at a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from tripoint.batch.records import ACTIVE, BatchJob, Counts, LineResult

Row = tuple[Any, ...]  # what sqlite3 hands back; typed by the queries that read it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL,
  created_at INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_results (
  batch_id TEXT NOT NULL, custom_id TEXT NOT NULL, line INTEGER NOT NULL,
  ok INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (batch_id, custom_id)
);
CREATE TABLE IF NOT EXISTS batch_claims (
  batch_id TEXT PRIMARY KEY, worker TEXT NOT NULL, until REAL NOT NULL
);
"""


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
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
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
            (job.id, job.owner, job.status, job.created_at, _dump(job)),
        )

    async def get(self, batch_id: str, owner: str | None = None) -> BatchJob | None:
        rows = await self._query("SELECT owner, body FROM batch_jobs WHERE id = ?", (batch_id,))
        if not rows or (owner is not None and rows[0][0] != owner):
            return None
        return _load(rows[0][1])

    async def owned(self, owner: str) -> list[BatchJob]:
        rows = await self._query(
            "SELECT body FROM batch_jobs WHERE owner = ? ORDER BY created_at DESC, rowid DESC",
            (owner,),
        )
        return [_load(row[0]) for row in rows]

    async def save(self, job: BatchJob, *, expect: str) -> bool:
        changed = await self._run(
            "UPDATE batch_jobs SET status = ?, body = ? WHERE id = ? AND status = ?",
            (job.status, _dump(job), job.id, expect),
        )
        return changed == 1

    async def claim(self, batch_id: str, worker: str, ttl: float) -> bool:
        now = time.time()
        changed = await self._run(
            "INSERT INTO batch_claims VALUES (?, ?, ?) ON CONFLICT (batch_id) DO UPDATE"
            " SET worker = excluded.worker, until = excluded.until"
            " WHERE batch_claims.until < ? OR batch_claims.worker = excluded.worker",
            (batch_id, worker, now + ttl, now),
        )
        return changed == 1

    async def release(self, batch_id: str, worker: str) -> None:
        await self._run(
            "DELETE FROM batch_claims WHERE batch_id = ? AND worker = ?", (batch_id, worker)
        )

    async def tally(self, batch_id: str) -> tuple[int, int]:
        rows = await self._query(
            "SELECT ok, count(*) FROM batch_results WHERE batch_id = ? GROUP BY ok", (batch_id,)
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
        return [_load(row[0]) for row in rows]

    async def record(self, batch_id: str, result: LineResult) -> bool:
        changed = await self._run(
            "INSERT OR IGNORE INTO batch_results VALUES (?, ?, ?, ?, ?)",
            (batch_id, result.custom_id, result.line, int(result.ok), result.body),
        )
        return changed == 1

    async def done(self, batch_id: str) -> set[str]:
        rows = await self._query(
            "SELECT custom_id FROM batch_results WHERE batch_id = ?", (batch_id,)
        )
        return {row[0] for row in rows}

    async def results(self, batch_id: str) -> list[LineResult]:
        rows = await self._query(
            "SELECT custom_id, line, ok, body FROM batch_results WHERE batch_id = ? ORDER BY line",
            (batch_id,),
        )
        return [LineResult(r[0], r[1], bool(r[2]), bytes(r[3])) for r in rows]

    async def _run(self, sql: str, args: tuple[object, ...]) -> int:
        def run() -> int:
            with self._lock:
                return self._connection().execute(sql, args).rowcount

        return await asyncio.to_thread(run)

    async def _query(self, sql: str, args: tuple[object, ...]) -> list[Row]:
        def query() -> list[Row]:
            with self._lock:
                return list(self._connection().execute(sql, args).fetchall())

        return await asyncio.to_thread(query)


def _dump(job: BatchJob) -> bytes:
    body = {name: getattr(job, name) for name in job.__dataclass_fields__}
    body["counts"] = asdict(job.counts)
    body["metadata"] = dict(job.metadata)
    body["times"] = dict(job.times)
    body["submitter"] = dict(job.submitter)
    return orjson.dumps(body)


def _load(raw: object) -> BatchJob:
    body = orjson.loads(raw if isinstance(raw, bytes | str) else bytes(raw))  # type: ignore[call-overload]
    body["counts"] = Counts(**body["counts"])
    body["errors"] = tuple(body["errors"])
    body["metadata"] = MappingProxyType(body["metadata"])
    body["times"] = MappingProxyType(body["times"])
    body["submitter"] = MappingProxyType(body.get("submitter", {}))
    return BatchJob(**body)
