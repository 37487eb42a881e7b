"""Admin route over captured prompts and answers: auditors (of the call's team) and admins
only, and every read is itself recorded in the admin audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from tripoint.api.admin.access import RoleRequirement
from tripoint.auth.administration import Administration
from tripoint.auth.grants import Actor
from tripoint.auth.roles import Role
from tripoint.capture.reading import MAX_CALL_ID, read_content
from tripoint.errors import NotFoundError

AsAuditor = Annotated[Actor, Depends(RoleRequirement(Role.AUDITOR))]

router = APIRouter()


@router.get("/calls/{call_id}/content", tags=["audit"])
async def call_content(
    call_id: Annotated[int, Path(ge=1, le=MAX_CALL_ID)], actor: AsAuditor, request: Request
) -> dict[str, Any]:
    """A call's captured request and answer, redacted; 404 when none was kept."""
    database = request.app.state.ledger_database
    if database is None:
        raise NotFoundError("This gateway keeps no call ledger (no `storage` configured).")
    administration: Administration = request.app.state.administration
    return await read_content(database, administration, actor, call_id)
