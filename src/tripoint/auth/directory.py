"""Hot-path reads: a key digest or a team name to the grant it carries (via the TTL cache)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from tripoint.auth.limit_admin import Scope, spec_of
from tripoint.auth.roles import Role
from tripoint.auth.tables import KeyRow, LimitRow, OrgRow, TeamRow, UserRow
from tripoint.config.limits import NO_LIMITS, GrantedLimits
from tripoint.storage.database import Database


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a live key allows, as of when it was loaded."""

    key_id: str
    digest: str
    role: Role
    team_id: str | None
    user_id: str | None
    models: frozenset[str] | None  # the key's allowlist narrowed by its team's; None: every
    expires_at: datetime | None
    team_name: str | None = None  # what limits and governance policies name teams by
    org_id: str | None = None
    org_name: str | None = None
    limits: GrantedLimits = NO_LIMITS  # set through the admin API on its org, team, key, user


@dataclass(frozen=True, slots=True)
class TeamGrant:
    team_id: str
    models: frozenset[str] | None
    name: str | None = None
    org_id: str | None = None
    org_name: str | None = None
    limits: GrantedLimits = NO_LIMITS  # its org's and its own (a token's subject has no row)


def narrow(team: list[str] | None, key: list[str] | None) -> frozenset[str] | None:
    """A key may narrow its team's models, never widen them."""
    if team is None:
        return None if key is None else frozenset(key)
    if key is None:
        return frozenset(team)
    return frozenset(team) & frozenset(key)


class Directory:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def key(self, digest: str) -> KeyGrant | None:
        """The live key with this digest, or None, with the limits stored for its org, team,
        itself and its user (one query). Live: not revoked, its user not disabled, and nothing
        it belongs to deleted (deletion revokes the keys too; this also refuses a key minted
        into a team while another transaction deleted it)."""
        return await self._key(KeyRow.digest == digest)

    async def key_by_id(self, key_id: str) -> KeyGrant | None:
        """The same, by key id: for calls made later on a key's behalf (batch lines)."""
        return await self._key(KeyRow.id == key_id)

    async def _key(self, which: ColumnElement[bool]) -> KeyGrant | None:
        org_l, team_l, key_l, user_l = (aliased(LimitRow) for _ in range(4))
        gone = _gone(UserRow, TeamRow, OrgRow)
        query = (
            select(KeyRow, TeamRow, gone, OrgRow.name, org_l, team_l, key_l, user_l)
            .outerjoin(TeamRow, KeyRow.team_id == TeamRow.id)
            .outerjoin(OrgRow, TeamRow.org_id == OrgRow.id)
            .outerjoin(UserRow, KeyRow.user_id == UserRow.id)
            .outerjoin(org_l, _limits_of(org_l, Scope.ORG, TeamRow.org_id))
            .outerjoin(team_l, _limits_of(team_l, Scope.TEAM, KeyRow.team_id))
            .outerjoin(key_l, _limits_of(key_l, Scope.KEY, KeyRow.id))
            .outerjoin(user_l, _limits_of(user_l, Scope.USER, KeyRow.user_id))
            .where(which)
        )
        async with self._database.session() as session:
            found = (await session.execute(query)).first()
        if found is None:
            return None
        row, team, gone_, org_name, org_limits, team_limits, key_limits, user_limits = found
        if row.revoked_at is not None or gone_:
            return None
        return KeyGrant(
            key_id=row.id,
            digest=row.digest,
            role=Role(row.role),
            team_id=row.team_id,
            user_id=row.user_id,
            models=narrow(team.models, row.models) if team is not None else _own(row.models),
            expires_at=row.expires_at,
            team_name=team.name if team is not None else None,
            org_id=team.org_id if team is not None else None,
            org_name=org_name,
            limits=GrantedLimits(
                org=spec_of(org_limits),
                team=spec_of(team_limits),
                key=spec_of(key_limits),
                user=spec_of(user_limits),
            ),
        )

    async def team(self, name: str) -> TeamGrant | None:
        org_l, team_l = aliased(LimitRow), aliased(LimitRow)
        query = (
            select(TeamRow.id, TeamRow.models, TeamRow.org_id, OrgRow.name, org_l, team_l)
            .outerjoin(OrgRow, TeamRow.org_id == OrgRow.id)
            .outerjoin(org_l, _limits_of(org_l, Scope.ORG, TeamRow.org_id))
            .outerjoin(team_l, _limits_of(team_l, Scope.TEAM, TeamRow.id))
            .where(TeamRow.name == name, TeamRow.deleted_at.is_(None), OrgRow.deleted_at.is_(None))
        )
        async with self._database.session() as session:
            found = (await session.execute(query)).first()
        if found is None:
            return None
        team_id, models, org_id, org_name, org_limits, team_limits = found
        return TeamGrant(
            team_id=team_id,
            models=None if models is None else frozenset(models),
            name=name,
            org_id=org_id,
            org_name=org_name,
            limits=GrantedLimits(org=spec_of(org_limits), team=spec_of(team_limits)),
        )


def _limits_of(
    table: type[LimitRow], scope: Scope, subject: InstrumentedAttribute[Any]
) -> ColumnElement[bool]:
    return and_(table.scope == scope.value, table.subject_id == subject)


def _gone(user: type[UserRow], team: type[TeamRow], org: type[OrgRow]) -> ColumnElement[bool]:
    """True when the key's user is disabled or deleted, or its team or org deleted."""
    return or_(
        user.disabled_at.is_not(None),
        user.deleted_at.is_not(None),
        team.deleted_at.is_not(None),
        org.deleted_at.is_not(None),
    )


def _own(models: list[str] | None) -> frozenset[str] | None:
    return None if models is None else frozenset(models)
