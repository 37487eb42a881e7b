"""Admin routes over the call ledger: usage, the call audit trail, data flows, verification.

Callers below `admin` see only their own team's calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from tripoint.api.admin.access import RoleRequirement
from tripoint.auth.grants import Actor
from tripoint.auth.roles import Role
from tripoint.errors import NotFoundError
from tripoint.ledger import queries
from tripoint.storage.database import Database

AsViewer = Annotated[Actor, Depends(RoleRequirement(Role.VIEWER))]
AsAdmin = Annotated[Actor, Depends(RoleRequirement(Role.ADMIN))]
Group = Literal["key", "team", "model", "backend", "status", "day"]

router = APIRouter()


def _database(request: Request) -> Database:
    database: Database | None = request.app.state.ledger_database
    if database is None:
        raise NotFoundError("This gateway keeps no call ledger (no `storage` configured).")
    return database


Ledger = Annotated[Database, Depends(_database)]


def _scope(actor: Actor, since: datetime | None, until: datetime | None) -> queries.Scope:
    team = None if actor.role is Role.ADMIN else (actor.principal.team or "-")
    return queries.Scope(since=since, until=until, team_id=team)


@router.get("/usage", tags=["usage"])
async def usage(
    actor: AsViewer,
    ledger: Ledger,
    group_by: Annotated[list[Group], Query(max_length=6)] = ["model"],  # noqa: B006
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Calls, tokens and cost, grouped by key, team, model, backend, status and/or day."""
    rows = await queries.usage(ledger, _scope(actor, since, until), group_by)
    return {"object": "list", "data": rows}


@router.get("/calls", tags=["audit"])
async def calls(
    *,
    actor: AsViewer,
    ledger: Ledger,
    model: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The call audit trail, oldest first; page with `after` = the last id you saw."""
    rows = await queries.calls(
        ledger, _scope(actor, since, until), model=model, status=status, after=after, limit=limit
    )
    return {"object": "list", "data": rows, "last_id": rows[-1]["id"] if rows else after}


@router.get("/calls/verify", tags=["audit"])
async def verify(actor: AsAdmin, ledger: Ledger) -> dict[str, Any]:
    """Check every record's hash chain; name the first record that breaks it."""
    checked, found = await queries.check_chain(ledger)
    broken = (
        None
        if found is None
        else {
            "stream": found.stream,
            "seq": found.seq,
            "id": found.id,
            "reason": found.reason,
        }
    )
    return {"valid": found is None, "checked": checked, "first_break": broken}


@router.get("/governance/flows", tags=["governance"])
async def flows(
    actor: AsViewer,
    ledger: Ledger,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Where data went: calls and tokens by team x data class x pattern x region."""
    return {"object": "list", "data": await queries.flows(ledger, _scope(actor, since, until))}
