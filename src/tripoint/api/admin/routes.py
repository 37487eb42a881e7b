"""The admin routes: thin, each naming its role; the rules live in auth.administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tripoint.api.admin.access import RoleRequirement
from tripoint.auth import views
from tripoint.auth.administration import Administration
from tripoint.auth.grants import Actor
from tripoint.auth.roles import Role


def _administration(request: Request) -> Administration:
    administration: Administration = request.app.state.administration
    return administration


Admin = Annotated[Administration, Depends(_administration)]
AsAdmin = Annotated[Actor, Depends(RoleRequirement(Role.ADMIN))]
AsTeamAdmin = Annotated[Actor, Depends(RoleRequirement(Role.TEAM_ADMIN))]
AsViewer = Annotated[Actor, Depends(RoleRequirement(Role.VIEWER))]
Limit = Annotated[int, Query(ge=1, le=1000)]
Filter = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, actor: AsViewer) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/whoami", tags=["identity"])
async def whoami(actor: AsViewer) -> views.PrincipalView:
    """The caller, as the gateway sees it."""
    p = actor.principal
    models = None if p.models is None else sorted(p.models)
    return views.PrincipalView(
        id=p.id, kind=p.kind, role=p.role, team_id=p.team, models=models, key_id=p.key_id
    )


# orgs ----------------------------------------------------------------------------------------
@router.post("/orgs", status_code=201, tags=["orgs"])
async def create_org(body: views.NewOrg, actor: AsAdmin, admin: Admin) -> views.OrgView:
    return await admin.create_org(actor, body)


@router.get("/orgs", tags=["orgs"])
async def list_orgs(actor: AsAdmin, admin: Admin) -> views.Listing[views.OrgView]:
    return views.Listing(data=await admin.list_orgs(actor))


@router.get("/orgs/{org_id}", tags=["orgs"])
async def get_org(org_id: str, actor: AsAdmin, admin: Admin) -> views.OrgView:
    return await admin.get_org(actor, org_id)


@router.delete("/orgs/{org_id}", tags=["orgs"])
async def delete_org(org_id: str, actor: AsAdmin, admin: Admin) -> views.Deletion:
    """Deletes the org and every team in it, as `DELETE /teams/{id}` does each."""
    return await admin.delete_org(actor, org_id)


# teams ---------------------------------------------------------------------------------------
@router.post("/teams", status_code=201, tags=["teams"])
async def create_team(body: views.NewTeam, actor: AsAdmin, admin: Admin) -> views.TeamView:
    return await admin.create_team(actor, body)


@router.get("/teams", tags=["teams"])
async def list_teams(actor: AsViewer, admin: Admin) -> views.Listing[views.TeamView]:
    return views.Listing(data=await admin.list_teams(actor))


@router.get("/teams/{team_id}", tags=["teams"])
async def get_team(team_id: str, actor: AsViewer, admin: Admin) -> views.TeamView:
    return await admin.get_team(actor, team_id)


@router.patch("/teams/{team_id}", tags=["teams"])
async def change_team(
    team_id: str, body: views.TeamChange, actor: AsAdmin, admin: Admin
) -> views.TeamView:
    return await admin.change_team(actor, team_id, body)


@router.delete("/teams/{team_id}", tags=["teams"])
async def delete_team(team_id: str, actor: AsAdmin, admin: Admin) -> views.Deletion:
    """Revokes the team's keys and deletes its users at once, on every replica; the audit log
    and call ledger keep their entries. The answer lists what was revoked and deleted."""
    return await admin.delete_team(actor, team_id)


# users ---------------------------------------------------------------------------------------
@router.post("/users", status_code=201, tags=["users"])
async def create_user(body: views.NewUser, actor: AsTeamAdmin, admin: Admin) -> views.UserView:
    return await admin.create_user(actor, body)


@router.get("/users", tags=["users"])
async def list_users(
    actor: AsViewer, admin: Admin, team_id: Filter = None
) -> views.Listing[views.UserView]:
    return views.Listing(data=await admin.list_users(actor, team_id))


@router.get("/users/{user_id}", tags=["users"])
async def get_user(user_id: str, actor: AsViewer, admin: Admin) -> views.UserView:
    return await admin.get_user(actor, user_id)


@router.patch("/users/{user_id}", tags=["users"])
async def change_user(
    user_id: str, body: views.UserChange, actor: AsTeamAdmin, admin: Admin
) -> views.UserView:
    return await admin.change_user(actor, user_id, body)


# keys ----------------------------------------------------------------------------------------
@router.post("/keys", status_code=201, tags=["keys"])
async def create_key(body: views.NewKey, actor: AsTeamAdmin, admin: Admin) -> views.NewKeyView:
    """The answer holds the full key; it is never shown again."""
    return await admin.create_key(actor, body)


@router.get("/keys", tags=["keys"])
async def list_keys(
    *,
    actor: AsViewer,
    admin: Admin,
    team_id: Filter = None,
    user_id: Filter = None,
    include_revoked: bool = False,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> views.Listing[views.KeyView]:
    keys = await admin.list_keys(
        actor, team_id, user_id, include_revoked=include_revoked, limit=limit, offset=offset
    )
    return views.Listing(data=keys)


@router.get("/keys/{key_id}", tags=["keys"])
async def get_key(key_id: str, actor: AsViewer, admin: Admin) -> views.KeyView:
    return await admin.get_key(actor, key_id)


@router.patch("/keys/{key_id}", tags=["keys"])
async def change_key(
    key_id: str, body: views.KeyChange, actor: AsTeamAdmin, admin: Admin
) -> views.KeyView:
    return await admin.change_key(actor, key_id, body)


@router.post("/keys/{key_id}/rotate", status_code=201, tags=["keys"])
async def rotate_key(
    key_id: str, actor: AsTeamAdmin, admin: Admin, body: views.Rotation | None = None
) -> views.NewKeyView:
    """A new key with the same rights; the old one keeps working for the grace period."""
    return await admin.rotate_key(actor, key_id, body or views.Rotation())


@router.post("/keys/{key_id}/revoke", tags=["keys"])
async def revoke_key(key_id: str, actor: AsTeamAdmin, admin: Admin) -> views.KeyView:
    return await admin.revoke_key(actor, key_id)


# audit ---------------------------------------------------------------------------------------
@router.get("/audit", tags=["audit"])
async def list_audit(
    *,
    actor: AsViewer,
    admin: Admin,
    team_id: Filter = None,
    action: Filter = None,
    target_id: Filter = None,
    actor_id: Filter = None,
    since: datetime | None = None,
    limit: Limit = 100,
) -> views.Listing[views.AuditView]:
    entries = await admin.list_audit(
        actor,
        team_id=team_id,
        action=action,
        target_id=target_id,
        actor_id=actor_id,
        since=since,
        limit=limit,
    )
    return views.Listing(data=entries)


@router.get("/audit/{entry_id}", tags=["audit"])
async def get_audit(entry_id: str, actor: AsViewer, admin: Admin) -> views.AuditView:
    return await admin.get_audit(actor, entry_id)
