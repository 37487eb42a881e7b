"""Read one call's captured content: for admins, and auditors of the call's team only; every
read is written to the admin audit log before anything is returned (no record, no content).

The admin API and the CLI both call this.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tripoint.auth.administration import Administration, Change
from tripoint.auth.grants import Actor
from tripoint.auth.roles import Role
from tripoint.capture.tables import ContentRow
from tripoint.errors import NotFoundError, PermissionDeniedError
from tripoint.ledger.tables import CallRow
from tripoint.storage.database import Database

MAX_CALL_ID = 2**63 - 1


async def read_content(
    database: Database, administration: Administration, actor: Actor, call_id: int
) -> dict[str, Any]:
    if not actor.role.covers(Role.AUDITOR):
        raise PermissionDeniedError("This needs the auditor role.")
    call = await _call(database, actor, call_id)
    async with database.session() as session:
        rows = (
            await session.scalars(
                select(ContentRow)
                .where(
                    ContentRow.request_id == call.request_id,
                    ContentRow.created_at == call.created_at,
                    ContentRow.team_id == call.team_id,  # both the caller's team, as given
                )
                .order_by(ContentRow.id)
            )
        ).all()
    found = rows[0] if rows else None
    detail = {"request_id": call.request_id, "found": found is not None}
    await administration.record(
        actor, Change("call.content.read", "call", str(call.id), call.team_id, detail)
    )
    if found is None:
        raise NotFoundError(
            f"No captured content for call {call_id}: its team does not capture, its data "
            "class was above the team's maximum, or it has expired.",
            param="id",
        )
    return {
        "object": "call.content",
        "call_id": call.id,
        "request_id": found.request_id,
        "created_at": found.created_at.isoformat(),
        "expires_at": found.expires_at.isoformat(),
        "team_name": found.team_name,
        "model": found.model,
        "operation": found.operation,
        "data_class": found.data_class,
        "complete": found.complete,
        "truncated": found.truncated,
        "request": found.request,
        "response": found.response,
    }


async def _call(database: Database, actor: Actor, call_id: int) -> CallRow:
    """The call record, if this actor may see it; else missing, exactly as an unknown id."""
    row = None
    if 0 < call_id <= MAX_CALL_ID:
        async with database.session() as session:
            row = await session.get(CallRow, call_id)
    if row is None or not (actor.is_admin or (row.team_id and row.team_id == actor.principal.team)):
        raise NotFoundError(f"No call with id {call_id}.", param="id")
    return row
