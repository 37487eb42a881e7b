"""Read the ledger: usage reports, the call audit, data flows, chain verification, export.

All queries are built with SQLAlchemy expressions (bound parameters only) and stream large
results, so a report over millions of calls does not load them at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, String, func, select

from tripoint.ledger.chain import Break, Verifier
from tripoint.ledger.tables import CallRow, HeadRow
from tripoint.limits.prices import usd
from tripoint.storage.database import Database

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])

GROUPS = {
    "key": CallRow.key_id,
    "team": CallRow.team_name,
    "model": CallRow.model,
    "backend": CallRow.backend,
    "status": CallRow.status,
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Which calls a report covers: a period, and (for callers below admin) one team."""

    since: datetime | None = None
    until: datetime | None = None
    team_id: str | None = None

    def apply(self, query: SelectT) -> SelectT:
        if self.since is not None:
            query = query.where(CallRow.created_at >= self.since)
        if self.until is not None:
            query = query.where(CallRow.created_at < self.until)
        if self.team_id is not None:
            query = query.where(CallRow.team_id == self.team_id)
        return query


async def usage(database: Database, scope: Scope, group_by: Sequence[str]) -> list[dict[str, Any]]:
    """Calls, tokens and cost grouped by any of key, team, model, backend, status, day."""
    day = func.substr(func.cast(CallRow.created_at, String()), 1, 10)
    columns = [day.label("day") if g == "day" else GROUPS[g].label(g) for g in group_by]
    query = scope.apply(
        select(
            *columns,
            func.count().label("calls"),
            func.sum(CallRow.prompt_tokens).label("prompt_tokens"),
            func.sum(CallRow.completion_tokens).label("completion_tokens"),
            func.sum(CallRow.cost_nano).label("cost_nano"),
        )
    )
    if columns:
        query = query.group_by(*columns).order_by(*columns)
    async with database.session() as session:
        rows = (await session.execute(query)).mappings().all()
    return [
        {
            **{g: row[g] for g in group_by},
            "calls": row["calls"],
            "prompt_tokens": int(row["prompt_tokens"] or 0),
            "completion_tokens": int(row["completion_tokens"] or 0),
            "cost_usd": str(usd(int(row["cost_nano"] or 0))),
        }
        for row in rows
    ]


async def flows(database: Database, scope: Scope) -> list[dict[str, Any]]:
    """Where data went: calls and tokens by team x data class x pattern x region."""
    keys = (CallRow.team_name, CallRow.data_class, CallRow.pattern, CallRow.region)
    query = (
        scope.apply(
            select(
                *keys,
                func.count().label("calls"),
                func.sum(CallRow.prompt_tokens).label("prompt_tokens"),
                func.sum(CallRow.completion_tokens).label("completion_tokens"),
            )
        )
        .group_by(*keys)
        .order_by(*keys)
    )
    async with database.session() as session:
        rows = (await session.execute(query)).all()
    return [
        {
            "team": team,
            "data_class": data_class,
            "pattern": pattern or "none",
            "region": region,
            "calls": calls,
            "prompt_tokens": int(prompt or 0),
            "completion_tokens": int(completion or 0),
        }
        for team, data_class, pattern, region, calls, prompt, completion in rows
    ]


async def calls(
    database: Database,
    scope: Scope,
    *,
    model: str | None = None,
    status: int | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The call audit, oldest first, paged by id (`after`: the last id of the previous page)."""
    query = scope.apply(select(CallRow).where(CallRow.id > after))
    if model is not None:
        query = query.where(CallRow.model == model)
    if status is not None:
        query = query.where(CallRow.status == status)
    query = query.order_by(CallRow.id).limit(limit)
    async with database.session() as session:
        rows = (await session.execute(query)).scalars().all()
    return [as_dict(row) for row in rows]


def as_dict(row: CallRow) -> dict[str, Any]:
    values = {c.name: getattr(row, c.name) for c in CallRow.__table__.columns}
    values["created_at"] = row.created_at.isoformat()
    values["cost_usd"] = str(usd(row.cost_nano))
    return values


async def all_calls(database: Database) -> AsyncIterator[dict[str, Any]]:
    """Every record, chain by chain in order: for export and verification."""
    query = select(CallRow).order_by(CallRow.stream, CallRow.seq)
    async with database.session() as session:
        result = await session.stream_scalars(query.execution_options(yield_per=1000))
        async for row in result:
            yield as_dict(row)


async def check_chain(database: Database) -> tuple[int, Break | None]:
    """Verify every chain, streaming; the first break names its record."""
    async with database.session() as session:
        heads = {
            h.stream: (h.seq, h.hash) for h in (await session.execute(select(HeadRow))).scalars()
        }
    verifier = Verifier(heads)
    async for row in all_calls(database):
        # the hash covers the datetime as stored; the dict carries it as text
        if found := verifier.feed({**row, "created_at": datetime.fromisoformat(row["created_at"])}):
            return verifier.checked, found
    return verifier.checked, verifier.finish()
