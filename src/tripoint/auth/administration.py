"""The identity control plane: orgs, teams, users and keys, scoped by role, every change audited.

The admin API and the CLI both call this; neither touches the tables directly. A caller below
`admin` sees only its own team: anything else is reported missing (404), exactly as an id that
does not exist, so there is no way to probe other teams.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from tripoint.auth import views
from tripoint.auth.broadcast import Announcer, Quiet
from tripoint.auth.grants import Actor, Grants
from tripoint.auth.keys import KeyHasher, new_id
from tripoint.auth.retirement import Consequence, Retired, retire_team
from tripoint.auth.roles import Role
from tripoint.auth.tables import AuditRow, KeyRow, LimitRow, OrgRow, TeamRow, UserRow
from tripoint.errors import NotFoundError, UnprocessableError
from tripoint.storage.database import Database

Row = TypeVar("Row", OrgRow, TeamRow, UserRow, KeyRow, AuditRow)
MAX_PAGE = 1000
MAX_ID = 40


@dataclass(frozen=True, slots=True)
class Change:
    """What an admin action did, for the audit log (never a secret)."""

    action: str
    target_type: str
    target_id: str
    team_id: str | None
    detail: dict[str, Any]


def missing(kind: str, ident: str) -> NotFoundError:
    return NotFoundError(f"No {kind} with id {ident[:64]!r}.", param="id")


def plausible(ident: str | None) -> bool:
    """Could this be an id at all? Anything else is simply not found, without a query (a NUL
    byte, say, is data to us but an error to PostgreSQL)."""
    return ident is not None and 0 < len(ident) <= MAX_ID and ident.isprintable()


class Administration:
    def __init__(
        self,
        database: Database,
        hasher: KeyHasher,
        *,
        known_models: frozenset[str],
        rotation_grace: float,
        forget: Callable[[str | None], None] = lambda digest: None,
        announcer: Announcer | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._hasher = hasher
        self._grants = Grants(known_models, now)
        self._rotation_grace = rotation_grace
        self._forget = forget  # drop a digest (None: everything) from this replica's key cache
        self._announcer = announcer or Quiet()  # and tell the other replicas, on commit
        self._now = now

    @property
    def database(self) -> Database:
        return self._database

    # orgs ----------------------------------------------------------------------------------
    async def create_org(self, actor: Actor, body: views.NewOrg) -> views.OrgView:
        actor.demand(Role.ADMIN)
        row = OrgRow(id=new_id("org"), name=body.name, created_at=self._now())
        async with self._database.session() as session:
            session.add(row)
            self._audit(
                session, actor, Change("org.create", "org", row.id, None, {"name": body.name})
            )
        return views.OrgView.model_validate(row)

    async def list_orgs(self, actor: Actor) -> list[views.OrgView]:
        actor.demand(Role.ADMIN)
        return [
            views.OrgView.model_validate(r)
            for r in await self._all(
                select(OrgRow).where(OrgRow.deleted_at.is_(None)).order_by(OrgRow.created_at)
            )
        ]

    async def get_org(self, actor: Actor, org_id: str) -> views.OrgView:
        actor.demand(Role.ADMIN)
        async with self._database.session() as session:
            return views.OrgView.model_validate(await self._org(session, org_id))

    async def delete_org(self, actor: Actor, org_id: str) -> views.Deletion:
        """Deletes every team of the org as `delete_team` does, then the org itself."""
        actor.demand(Role.ADMIN)
        now, retired = self._now(), Retired()
        async with self._database.session() as session:
            org = await self._org(session, org_id)
            teams = select(TeamRow).where(TeamRow.org_id == org.id, TeamRow.deleted_at.is_(None))
            for team in (await session.scalars(teams.order_by(TeamRow.id))).all():
                retired.add(await self._retire(session, actor, team, now, f"org.delete {org.id}"))
            org.deleted_at = now
            detail = {"name": org.name, **retired.counts(), "teams": retired.teams}
            self._audit(session, actor, Change("org.delete", "org", org.id, None, detail))
            await self._announcer.announce(session, None)
        self._forget(None)
        return retired.answer("org", org.id, now)

    # teams ---------------------------------------------------------------------------------
    async def create_team(self, actor: Actor, body: views.NewTeam) -> views.TeamView:
        actor.demand(Role.ADMIN)
        if not plausible(body.org_id):
            raise missing("org", body.org_id)
        models = self._grants.models(body.models)
        row = TeamRow(
            id=new_id("team"),
            org_id=body.org_id,
            name=body.name,
            models=models,
            meta=dict(body.metadata),
            created_at=self._now(),
        )
        async with self._database.session() as session:
            await self._org(session, body.org_id)
            session.add(row)
            detail = {"name": body.name, "models": models}
            self._audit(session, actor, Change("team.create", "team", row.id, row.id, detail))
        return views.TeamView.model_validate(row)

    async def list_teams(self, actor: Actor) -> list[views.TeamView]:
        query = select(TeamRow).where(TeamRow.deleted_at.is_(None)).order_by(TeamRow.created_at)
        if not actor.is_admin:
            query = query.where(TeamRow.id == actor.principal.team)
        return [views.TeamView.model_validate(r) for r in await self._all(query)]

    async def get_team(self, actor: Actor, team_id: str) -> views.TeamView:
        async with self._database.session() as session:
            return views.TeamView.model_validate(await self._team(session, actor, team_id))

    async def change_team(
        self, actor: Actor, team_id: str, body: views.TeamChange
    ) -> views.TeamView:
        actor.demand(Role.ADMIN)
        async with self._database.session() as session:
            row = await self._team(session, actor, team_id)
            detail: dict[str, object] = {}
            if body.clear_models or body.models is not None:
                row.models = None if body.clear_models else self._grants.models(body.models)
                detail["models"] = row.models
            if body.metadata is not None:
                row.meta = dict(body.metadata)
                detail["metadata"] = sorted(body.metadata)
            self._audit(session, actor, Change("team.change", "team", row.id, row.id, detail))
            await self._announcer.announce(session, None)
        self._forget(None)  # every key of the team may have changed rights
        return views.TeamView.model_validate(row)

    async def delete_team(self, actor: Actor, team_id: str) -> views.Deletion:
        """The team is marked deleted, its live keys revoked, its users marked deleted: all in
        one transaction, each audited; history (audit log, call ledger) is kept."""
        actor.demand(Role.ADMIN)
        now = self._now()
        async with self._database.session() as session:
            team = await self._team(session, actor, team_id)
            retired = await self._retire(session, actor, team, now, None)
            await self._announcer.announce(session, None)
        self._forget(None)
        return retired.answer("team", team.id, now)

    async def _retire(
        self, session: AsyncSession, actor: Actor, team: TeamRow, now: datetime, cause: str | None
    ) -> Retired:
        def audit(c: Consequence) -> None:
            because = {"cause": f"team.delete {team.id}"}
            self._audit(session, actor, Change(c.action, c.kind, c.target_id, c.team_id, because))

        retired = await retire_team(session, team, now, audit)
        detail = {"name": team.name, **retired.counts(), **({"cause": cause} if cause else {})}
        self._audit(session, actor, Change("team.delete", "team", team.id, team.id, detail))
        return retired

    # users ---------------------------------------------------------------------------------
    async def create_user(self, actor: Actor, body: views.NewUser) -> views.UserView:
        actor.demand(Role.TEAM_ADMIN)
        role = self._grants.role(actor, Role(body.role))
        async with self._database.session() as session:
            team = await self._team(session, actor, body.team_id or actor.principal.team or "")
            row = UserRow(
                id=new_id("user"),
                team_id=team.id,
                email=body.email,
                role=role.value,
                created_at=self._now(),
            )
            session.add(row)
            self._audit(
                session, actor, Change("user.create", "user", row.id, team.id, {"role": role})
            )
        return views.UserView.model_validate(row)

    async def list_users(self, actor: Actor, team_id: str | None = None) -> list[views.UserView]:
        query = select(UserRow).where(UserRow.deleted_at.is_(None)).order_by(UserRow.created_at)
        query = self._scoped(query, UserRow.team_id, actor, team_id)
        return [views.UserView.model_validate(r) for r in await self._all(query)]

    async def get_user(self, actor: Actor, user_id: str) -> views.UserView:
        async with self._database.session() as session:
            return views.UserView.model_validate(await self._user(session, actor, user_id))

    async def change_user(
        self, actor: Actor, user_id: str, body: views.UserChange
    ) -> views.UserView:
        actor.demand(Role.TEAM_ADMIN)
        async with self._database.session() as session:
            row = await self._user(session, actor, user_id)
            self._grants.role(actor, Role(row.role))  # may not touch someone above itself
            detail: dict[str, object] = {}
            if body.role is not None:
                row.role = self._grants.role(actor, Role(body.role)).value
                detail["role"] = row.role
            if body.disabled is not None:
                row.disabled_at = self._now() if body.disabled else None
                detail["disabled"] = body.disabled
            self._audit(session, actor, Change("user.change", "user", row.id, row.team_id, detail))
            await self._announcer.announce(session, None)
        self._forget(None)
        return views.UserView.model_validate(row)

    # keys ----------------------------------------------------------------------------------
    async def create_key(self, actor: Actor, body: views.NewKey) -> views.NewKeyView:
        actor.demand(Role.TEAM_ADMIN)
        role = self._grants.role(actor, Role(body.role))
        expires_at = self._grants.expiry(actor, body)
        async with self._database.session() as session:
            team_id = body.team_id or actor.principal.team
            team = await self._team(session, actor, team_id) if team_id else None
            if team is None and role is not Role.ADMIN:
                raise UnprocessableError("A key below admin belongs to a team.", param="team_id")
            if body.user_id is not None:
                user = await self._user(session, actor, body.user_id)
                if team is None or user.team_id != team.id:
                    raise missing("user", body.user_id)
                self._grants.role_for_user(role, Role(user.role))
            models = self._grants.key_models(actor, team.models if team else None, body.models)
            minted = self._hasher.mint()
            row = KeyRow(
                id=new_id("key"),
                digest=minted.digest,
                prefix=minted.prefix,
                last4=minted.last4,
                name=body.name,
                team_id=team.id if team else None,
                user_id=body.user_id,
                role=role.value,
                models=models,
                meta=dict(body.metadata),
                created_by=actor.principal.id[:80],
                created_at=self._now(),
                expires_at=expires_at,
            )
            session.add(row)
            detail = {"role": role, "models": models, "expires_at": _iso(expires_at)}
            self._audit(session, actor, Change("key.create", "key", row.id, row.team_id, detail))
        return views.NewKeyView(**views.KeyView.model_validate(row).model_dump(), key=minted.secret)

    async def list_keys(
        self,
        actor: Actor,
        team_id: str | None = None,
        user_id: str | None = None,
        *,
        include_revoked: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[views.KeyView]:
        query = select(KeyRow).order_by(KeyRow.created_at, KeyRow.id)
        query = self._scoped(query, KeyRow.team_id, actor, team_id)
        if user_id is not None:
            query = query.where(KeyRow.user_id == user_id if plausible(user_id) else false())
        if not include_revoked:
            query = query.where(KeyRow.revoked_at.is_(None))
        query = query.limit(min(limit, MAX_PAGE)).offset(offset)
        return [views.KeyView.model_validate(r) for r in await self._all(query)]

    async def get_key(self, actor: Actor, key_id: str) -> views.KeyView:
        async with self._database.session() as session:
            return views.KeyView.model_validate(await self._key(session, actor, key_id))

    async def change_key(self, actor: Actor, key_id: str, body: views.KeyChange) -> views.KeyView:
        actor.demand(Role.TEAM_ADMIN)
        async with self._database.session() as session:
            row = await self._key(session, actor, key_id)
            self._grants.role(actor, Role(row.role))
            team = await session.get(TeamRow, row.team_id) if row.team_id else None
            detail: dict[str, object] = {}
            if body.name is not None:
                row.name = detail["name"] = body.name
            if body.models is not None:
                row.models = self._grants.key_models(
                    actor, team.models if team else None, body.models
                )
                detail["models"] = row.models
            if body.metadata is not None:
                row.meta = dict(body.metadata)
                detail["metadata"] = sorted(body.metadata)
            self._audit(session, actor, Change("key.change", "key", row.id, row.team_id, detail))
            await self._announcer.announce(session, row.id)
        self._forget(row.digest)
        return views.KeyView.model_validate(row)

    async def rotate_key(self, actor: Actor, key_id: str, body: views.Rotation) -> views.NewKeyView:
        """A new secret with the same rights; the old one works for the grace period."""
        actor.demand(Role.TEAM_ADMIN)
        grace = self._rotation_grace if body.grace_seconds is None else body.grace_seconds
        now = self._now()
        async with self._database.session() as session:
            old = await self._key(session, actor, key_id)
            self._grants.role(actor, Role(old.role))
            if old.revoked_at is not None:
                raise UnprocessableError("A revoked key cannot be rotated.", param="id")
            minted = self._hasher.mint()
            new = KeyRow(
                id=new_id("key"),
                digest=minted.digest,
                prefix=minted.prefix,
                last4=minted.last4,
                name=old.name,
                team_id=old.team_id,
                user_id=old.user_id,
                role=old.role,
                models=old.models,
                meta=dict(old.meta),
                created_by=actor.principal.id[:80],
                created_at=now,
                expires_at=old.expires_at,
            )
            session.add(new)
            limits = await session.get(LimitRow, ("key", old.id))
            if limits is not None:  # the new key keeps the limits set on the old one
                columns = {c.key: getattr(limits, c.key) for c in LimitRow.__table__.columns}
                session.add(LimitRow(**{**columns, "subject_id": new.id}))
            cutoff = now + timedelta(seconds=grace)
            old.expires_at = cutoff if old.expires_at is None else min(old.expires_at, cutoff)
            old.replaced_by = new.id
            detail = {"new_key": new.id, "old_expires_at": _iso(old.expires_at)}
            self._audit(session, actor, Change("key.rotate", "key", old.id, old.team_id, detail))
            await self._announcer.announce(session, old.id)
        self._forget(old.digest)
        return views.NewKeyView(**views.KeyView.model_validate(new).model_dump(), key=minted.secret)

    async def revoke_key(self, actor: Actor, key_id: str) -> views.KeyView:
        actor.demand(Role.TEAM_ADMIN)
        async with self._database.session() as session:
            row = await self._key(session, actor, key_id)
            self._grants.role(actor, Role(row.role))
            if row.revoked_at is None:
                row.revoked_at = self._now()
                self._audit(session, actor, Change("key.revoke", "key", row.id, row.team_id, {}))
                await self._announcer.announce(session, row.id)
        self._forget(row.digest)
        return views.KeyView.model_validate(row)

    # audit ---------------------------------------------------------------------------------
    async def list_audit(
        self,
        actor: Actor,
        *,
        team_id: str | None = None,
        action: str | None = None,
        target_id: str | None = None,
        actor_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[views.AuditView]:
        query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id)
        query = self._scoped(query, AuditRow.team_id, actor, team_id)
        if action is not None:
            query = query.where(AuditRow.action == action)
        if target_id is not None:
            query = query.where(AuditRow.target_id == target_id)
        if actor_id is not None:
            query = query.where(AuditRow.actor == actor_id)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        return [
            views.AuditView.model_validate(r)
            for r in await self._all(query.limit(min(limit, MAX_PAGE)))
        ]

    async def get_audit(self, actor: Actor, entry_id: str) -> views.AuditView:
        if not plausible(entry_id):
            raise missing("audit entry", entry_id)
        async with self._database.session() as session:
            row = await session.get(AuditRow, entry_id)
        if row is None or not sees(actor, row.team_id):
            raise missing("audit entry", entry_id)
        return views.AuditView.model_validate(row)

    async def record(self, actor: Actor, change: Change) -> None:
        """Audit an action that changes nothing here, such as reading captured prompts."""
        async with self._database.session() as session:
            self._audit(session, actor, change)

    def _scoped(
        self, query: Select[Row], column: Any, actor: Actor, team_id: str | None
    ) -> Select[Row]:
        if team_id is not None:
            query = query.where(column == team_id if plausible(team_id) else false())
        if not actor.is_admin:
            query = query.where(column == actor.principal.team)
        return query

    async def _all(self, query: Select[Row]) -> list[Row]:
        async with self._database.session() as session:
            return list((await session.scalars(query)).all())

    async def _org(self, session: AsyncSession, org_id: str) -> OrgRow:
        row = await session.get(OrgRow, org_id) if plausible(org_id) else None
        if row is None or row.deleted_at is not None:
            raise missing("org", org_id)
        return row

    async def _team(self, session: AsyncSession, actor: Actor, team_id: str) -> TeamRow:
        row = await session.get(TeamRow, team_id) if plausible(team_id) else None
        if row is None or row.deleted_at is not None or not sees(actor, row.id):
            raise missing("team", team_id)
        return row

    async def _user(self, session: AsyncSession, actor: Actor, user_id: str) -> UserRow:
        row = await session.get(UserRow, user_id) if plausible(user_id) else None
        if row is None or row.deleted_at is not None or not sees(actor, row.team_id):
            raise missing("user", user_id)
        return row

    async def _key(self, session: AsyncSession, actor: Actor, key_id: str) -> KeyRow:
        row = await session.get(KeyRow, key_id) if plausible(key_id) else None
        if row is None or not sees(actor, row.team_id):
            raise missing("key", key_id)
        return row

    def _audit(self, session: AsyncSession, actor: Actor, change: Change) -> None:
        session.add(audit_entry(actor, change, self._now()))


def audit_entry(actor: Actor, change: Change, at: datetime) -> AuditRow:
    return AuditRow(
        id=new_id("audit"),
        at=at,
        actor=actor.principal.id[:80],
        actor_role=actor.principal.role,
        action=change.action,
        target_type=change.target_type,
        target_id=change.target_id,
        team_id=change.team_id,
        source=actor.source,
        request_id=actor.request_id,
        detail={k: _plain(v) for k, v in change.detail.items()},
    )


def sees(actor: Actor, team_id: str | None) -> bool:
    """Whether the actor may see an object of this team (admins see every team's)."""
    return actor.is_admin or (team_id is not None and team_id == actor.principal.team)


def _plain(value: object) -> object:
    return value.value if isinstance(value, Role) else value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
