"""What deleting a team or an organisation does, inside the deleting transaction.

Nothing is erased: the team (or org) is marked deleted, every live key of it is revoked, every
user of it is marked deleted (and disabled), and each of those gets its own audit entry naming
the deletion that caused it. Earlier audit entries and the call ledger are never touched, so
usage and history stay readable by the ids they always had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tripoint.auth import views
from tripoint.auth.tables import KeyRow, TeamRow, UserRow


@dataclass
class Retired:
    """What one deletion did, for its answer and its audit entry."""

    teams: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)

    def add(self, other: Retired) -> None:
        self.teams += other.teams
        self.keys += other.keys
        self.users += other.users

    def counts(self) -> dict[str, object]:
        return {"keys_revoked": len(self.keys), "users_deleted": len(self.users)}

    def answer(self, kind: Literal["org", "team"], ident: str, at: datetime) -> views.Deletion:
        return views.Deletion(
            id=ident,
            object=kind,
            deleted_at=at,
            teams_deleted=self.teams,
            keys_revoked=self.keys,
            users_deleted=self.users,
        )


@dataclass(frozen=True, slots=True)
class Consequence:
    """One object taken out by a deletion: audited as `action` on it, `cause` in the detail."""

    action: str  # key.revoke, user.delete
    kind: str  # the target's type
    target_id: str
    team_id: str


async def retire_team(
    session: AsyncSession, team: TeamRow, now: datetime, audit: Callable[[Consequence], None]
) -> Retired:
    team.deleted_at = now
    retired = Retired(teams=[team.id])
    live_keys = select(KeyRow).where(KeyRow.team_id == team.id, KeyRow.revoked_at.is_(None))
    for key in (await session.scalars(live_keys.order_by(KeyRow.id))).all():
        key.revoked_at = now
        retired.keys.append(key.id)
        audit(Consequence("key.revoke", "key", key.id, team.id))
    live_users = select(UserRow).where(UserRow.team_id == team.id, UserRow.deleted_at.is_(None))
    for user in (await session.scalars(live_users.order_by(UserRow.id))).all():
        user.deleted_at = now
        user.disabled_at = user.disabled_at or now
        retired.users.append(user.id)
        audit(Consequence("user.delete", "user", user.id, team.id))
    return retired
