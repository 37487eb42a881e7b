"""Admin routes for limits and budgets on orgs, teams, keys and users; the rules live in
auth.limit_admin. PUT replaces a scope's limits, DELETE removes them; config limits still apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from tripoint.api.admin.access import RoleRequirement
from tripoint.auth import views
from tripoint.auth.grants import Actor
from tripoint.auth.limit_admin import LimitAdministration, Scope
from tripoint.auth.roles import Role


def _limits(request: Request) -> LimitAdministration:
    limits: LimitAdministration = request.app.state.limit_administration
    return limits


Limits = Annotated[LimitAdministration, Depends(_limits)]
AsAdmin = Annotated[Actor, Depends(RoleRequirement(Role.ADMIN))]
AsTeamAdmin = Annotated[Actor, Depends(RoleRequirement(Role.TEAM_ADMIN))]
AsViewer = Annotated[Actor, Depends(RoleRequirement(Role.VIEWER))]

router = APIRouter(tags=["limits"])


# orgs: an admin's ------------------------------------------------------------------------------
@router.get("/orgs/{org_id}/limits")
async def get_org_limits(org_id: str, actor: AsAdmin, limits: Limits) -> views.LimitsView:
    return await limits.get(actor, Scope.ORG, org_id)


@router.put("/orgs/{org_id}/limits")
async def set_org_limits(
    org_id: str, body: views.LimitsBody, actor: AsAdmin, limits: Limits
) -> views.LimitsView:
    """Limits shared by every team of the organisation."""
    return await limits.set(actor, Scope.ORG, org_id, body)


@router.delete("/orgs/{org_id}/limits")
async def clear_org_limits(org_id: str, actor: AsAdmin, limits: Limits) -> views.LimitsView:
    return await limits.clear(actor, Scope.ORG, org_id)


# teams: an admin sets them, the team reads them ------------------------------------------------
@router.get("/teams/{team_id}/limits")
async def get_team_limits(team_id: str, actor: AsViewer, limits: Limits) -> views.LimitsView:
    return await limits.get(actor, Scope.TEAM, team_id)


@router.put("/teams/{team_id}/limits")
async def set_team_limits(
    team_id: str, body: views.LimitsBody, actor: AsAdmin, limits: Limits
) -> views.LimitsView:
    """Limits shared by every key and user of the team."""
    return await limits.set(actor, Scope.TEAM, team_id, body)


@router.delete("/teams/{team_id}/limits")
async def clear_team_limits(team_id: str, actor: AsAdmin, limits: Limits) -> views.LimitsView:
    return await limits.clear(actor, Scope.TEAM, team_id)


# keys and users: a team admin's for its own team -----------------------------------------------
@router.get("/keys/{key_id}/limits")
async def get_key_limits(key_id: str, actor: AsViewer, limits: Limits) -> views.LimitsView:
    return await limits.get(actor, Scope.KEY, key_id)


@router.put("/keys/{key_id}/limits")
async def set_key_limits(
    key_id: str, body: views.LimitsBody, actor: AsTeamAdmin, limits: Limits
) -> views.LimitsView:
    """Limits of one key, inside its team's and org's (which still apply)."""
    return await limits.set(actor, Scope.KEY, key_id, body)


@router.delete("/keys/{key_id}/limits")
async def clear_key_limits(key_id: str, actor: AsTeamAdmin, limits: Limits) -> views.LimitsView:
    return await limits.clear(actor, Scope.KEY, key_id)


@router.get("/users/{user_id}/limits")
async def get_user_limits(user_id: str, actor: AsViewer, limits: Limits) -> views.LimitsView:
    return await limits.get(actor, Scope.USER, user_id)


@router.put("/users/{user_id}/limits")
async def set_user_limits(
    user_id: str, body: views.LimitsBody, actor: AsTeamAdmin, limits: Limits
) -> views.LimitsView:
    """Limits shared by every key of the user."""
    return await limits.set(actor, Scope.USER, user_id, body)


@router.delete("/users/{user_id}/limits")
async def clear_user_limits(user_id: str, actor: AsTeamAdmin, limits: Limits) -> views.LimitsView:
    return await limits.clear(actor, Scope.USER, user_id)
