"""Batch state in the project's SQL store: PostgreSQL for workers on many machines.

A worker leases lines with `WITH picked AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED)
UPDATE ... FROM picked`: concurrent workers skip each other's rows instead of waiting for them
or taking the same line. Lease
deadlines are on the database's clock (so workers' clocks need not agree). On SQLite (which
has no row locks and runs one writer at a time) the same statements are atomic as they are.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    exists,
    extract,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import CursorResult

from tripoint.batch.records import (
    ACTIVE,
    BatchJob,
    InputLine,
    Lease,
    LineResult,
    dump_job,
    load_job,
)
from tripoint.batch.tables import BatchJobRow, BatchLineRow
from tripoint.storage.database import Database

Jobs = cast(Table, BatchJobRow.__table__)
Lines = cast(Table, BatchLineRow.__table__)
_CHUNK = 1000  # lines per INSERT when a batch begins


class SqlBatchStore:
    def __init__(self, database: Database) -> None:
        self._db = database  # a gateway component of its own: started (migrated) before us

    async def close(self) -> None:
        """The database is closed by its own component."""

    def _now(self) -> ColumnElement[Any]:
        if self._db.dialect == "postgresql":
            return extract("epoch", func.clock_timestamp())
        return literal(time.time())

    async def create(self, job: BatchJob) -> None:
        row: dict[str, object] = {"id": job.id, "owner": job.owner, "status": job.status}
        row |= {"created_at": job.created_at, "body": dump_job(job), "claimed_until": 0.0}
        async with self._db.session() as session:
            await session.execute(insert(Jobs).values(**row))

    async def get(self, batch_id: str, owner: str | None = None) -> BatchJob | None:
        query = select(Jobs.c.owner, Jobs.c.body).where(Jobs.c.id == batch_id)
        async with self._db.session() as session:
            row = (await session.execute(query)).first()
        if row is None or (owner is not None and row.owner != owner):
            return None
        return load_job(row.body)

    async def owned(self, owner: str) -> list[BatchJob]:
        query = (
            select(Jobs.c.body)
            .where(Jobs.c.owner == owner)
            .order_by(Jobs.c.created_at.desc(), Jobs.c.id.desc())
        )
        async with self._db.session() as session:
            return [load_job(body) for body in (await session.scalars(query))]

    async def save(self, job: BatchJob, *, expect: str) -> bool:
        change = (
            update(Jobs)
            .where(Jobs.c.id == job.id, Jobs.c.status == expect)
            .values(status=job.status, body=dump_job(job))
        )
        async with self._db.session() as session:
            return _count(await session.execute(change)) == 1

    async def claim(self, batch_id: str, worker: str, ttl: float) -> bool:
        now = self._now()
        change = (
            update(Jobs)
            .where(
                Jobs.c.id == batch_id,
                (Jobs.c.claimed_until < now) | (Jobs.c.claimed_by == worker),
            )
            .values(claimed_by=worker, claimed_until=now + ttl)
        )
        async with self._db.session() as session:
            return _count(await session.execute(change)) == 1

    async def release(self, batch_id: str, worker: str) -> None:
        change = (
            update(Jobs)
            .where(Jobs.c.id == batch_id, Jobs.c.claimed_by == worker)
            .values(claimed_by=None, claimed_until=0.0)
        )
        async with self._db.session() as session:
            await session.execute(change)

    async def begin(self, job: BatchJob, rows: Sequence[InputLine]) -> bool:
        change = (
            update(Jobs)
            .where(Jobs.c.id == job.id, Jobs.c.status == "validating")
            .values(status=job.status, body=dump_job(job))
        )
        fresh: dict[str, object] = {"attempt": 0, "lease_until": 0.0, "sealed": False}
        async with self._db.session() as session:  # one transaction: all lines or none
            if _count(await session.execute(change)) != 1:
                return False
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                await session.execute(
                    insert(Lines),
                    [
                        {"batch_id": job.id, "line": r.line, "custom_id": r.custom_id}
                        | {"raw": r.raw}
                        | fresh
                        for r in chunk
                    ],
                )
        return True

    async def lease(self, batch_id: str, worker: str, ttl: float, limit: int = 1) -> list[Lease]:
        now = self._now()
        pick = (
            select(Lines.c.line)
            .where(
                Lines.c.batch_id == batch_id,
                Lines.c.ok.is_(None),
                Lines.c.sealed.is_(False),
                Lines.c.lease_until < now,
            )
            .order_by(Lines.c.line)
            .limit(limit)
            .with_for_update(skip_locked=True)  # rows another worker is leasing are passed by
            .cte("picked")
            .prefix_with("MATERIALIZED", dialect="postgresql")  # picked once, never re-run
        )
        running = exists().where(Jobs.c.id == batch_id, Jobs.c.status == "in_progress")
        change = (
            update(Lines)
            .where(Lines.c.batch_id == batch_id, Lines.c.line == pick.c.line, running)
            .values(worker=worker, lease_until=now + ttl, attempt=Lines.c.attempt + 1)
            .returning(Lines.c.custom_id, Lines.c.line, Lines.c.raw, Lines.c.attempt)
        )
        async with self._db.session() as session:
            rows = (await session.execute(change)).all()
        leases = [Lease(batch_id, r.custom_id, r.line, bytes(r.raw), r.attempt) for r in rows]
        return sorted(leases, key=lambda lease: lease.line)  # RETURNING keeps no order

    def _held(self) -> ColumnElement[bool]:
        """The lease named by the bound parameters is still the line's latest, and open."""
        return and_(
            Lines.c.batch_id == bindparam("b_id"),
            Lines.c.line == bindparam("b_line"),
            Lines.c.attempt == bindparam("b_attempt"),
            Lines.c.ok.is_(None),
            Lines.c.sealed.is_(False),
        )

    async def renew(self, leases: Sequence[Lease], ttl: float) -> None:
        await self._each(
            leases, update(Lines).where(self._held()).values(lease_until=self._now() + ttl)
        )

    async def drop(self, leases: Sequence[Lease]) -> None:
        await self._each(leases, update(Lines).where(self._held()).values(lease_until=0.0))

    async def _each(self, leases: Sequence[Lease], change: Any) -> None:
        if not leases:
            return
        keys = [{"b_id": x.batch_id, "b_line": x.line, "b_attempt": x.attempt} for x in leases]
        async with self._db.session() as session:
            await session.execute(change, keys)

    async def record(self, lease: Lease, result: LineResult) -> bool:
        change = update(Lines).where(self._held()).values(ok=result.ok, body=result.body)
        keys = {"b_id": lease.batch_id, "b_line": lease.line, "b_attempt": lease.attempt}
        async with self._db.session() as session:
            return _count(await session.execute(change, keys)) == 1

    async def open_lines(self, batch_id: str) -> tuple[int, int]:
        live = func.count().filter(Lines.c.lease_until >= self._now())
        query = select(func.count(), live).where(
            Lines.c.batch_id == batch_id, Lines.c.ok.is_(None), Lines.c.sealed.is_(False)
        )
        async with self._db.session() as session:
            unfinished, leased = (await session.execute(query)).one()
        return int(unfinished), int(leased)

    async def seal(self, batch_id: str) -> None:
        change = (
            update(Lines)
            .where(Lines.c.batch_id == batch_id, Lines.c.ok.is_(None))
            .values(sealed=True)
        )
        async with self._db.session() as session:
            await session.execute(change)

    async def tally(self, batch_id: str) -> tuple[int, int]:
        query = (
            select(Lines.c.ok, func.count())
            .where(Lines.c.batch_id == batch_id, Lines.c.ok.is_not(None))
            .group_by(Lines.c.ok)
        )
        async with self._db.session() as session:
            counts = {bool(ok): int(n) for ok, n in (await session.execute(query)).all()}
        return counts.get(True, 0), counts.get(False, 0)

    async def active(self) -> list[BatchJob]:
        query = (
            select(Jobs.c.body)
            .where(Jobs.c.status.in_(ACTIVE))
            .order_by(Jobs.c.created_at, Jobs.c.id)
        )
        async with self._db.session() as session:
            return [load_job(body) for body in (await session.scalars(query))]

    async def results(self, batch_id: str) -> list[LineResult]:
        query = (
            select(Lines.c.custom_id, Lines.c.line, Lines.c.ok, Lines.c.body)
            .where(Lines.c.batch_id == batch_id, Lines.c.ok.is_not(None))
            .order_by(Lines.c.line)
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [LineResult(r.custom_id, r.line, bool(r.ok), bytes(r.body)) for r in rows]


def _count(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0
