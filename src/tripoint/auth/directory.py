"""Hot-path reads: a key digest or a team name to the grant it carries (via the TTL cache)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select

from tripoint.auth.roles import Role
from tripoint.auth.tables import KeyRow, OrgRow, TeamRow, UserRow
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


@dataclass(frozen=True, slots=True)
class TeamGrant:
    team_id: str
    models: frozenset[str] | None
    name: str | None = None


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
        """The live key with this digest, or None: not revoked, its user not disabled, and
        nothing it belongs to deleted (deletion revokes the keys too; this also refuses a key
        minted into a team while another transaction deleted it)."""
        query = (
            select(KeyRow, TeamRow.models, TeamRow.name, _gone(UserRow, TeamRow, OrgRow))
            .outerjoin(TeamRow, KeyRow.team_id == TeamRow.id)
            .outerjoin(OrgRow, TeamRow.org_id == OrgRow.id)
            .outerjoin(UserRow, KeyRow.user_id == UserRow.id)
            .where(KeyRow.digest == digest)
        )
        async with self._database.session() as session:
            found = (await session.execute(query)).first()
        if found is None:
            return None
        row, team_models, team_name, gone = found
        if row.revoked_at is not None or gone:
            return None
        return KeyGrant(
            key_id=row.id,
            digest=row.digest,
            role=Role(row.role),
            team_id=row.team_id,
            user_id=row.user_id,
            models=narrow(team_models, row.models) if row.team_id else _own(row.models),
            expires_at=row.expires_at,
            team_name=team_name,
        )

    async def team(self, name: str) -> TeamGrant | None:
        query = (
            select(TeamRow.id, TeamRow.models)
            .join(OrgRow, TeamRow.org_id == OrgRow.id)
            .where(TeamRow.name == name, TeamRow.deleted_at.is_(None), OrgRow.deleted_at.is_(None))
        )
        async with self._database.session() as session:
            found = (await session.execute(query)).first()
        if found is None:
            return None
        team_id, models = found
        return TeamGrant(
            team_id=team_id, models=None if models is None else frozenset(models), name=name
        )


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
