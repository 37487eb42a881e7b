"""Limits set through the admin API on an org, team, key or user: who may set them, every change
audited, and the key cache told so this replica applies them at once (others within its TTL).

Orgs and teams are an admin's to limit; a team admin limits its own team's keys and users (never
one above its own role, nor limits an admin set), inside the team's and the org's limits, which
still apply. Another team's objects answer 404, exactly as missing ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from tripoint.auth import views
from tripoint.auth.administration import Change, audit_entry, missing, plausible, sees
from tripoint.auth.grants import Actor
from tripoint.auth.roles import Role
from tripoint.auth.tables import KeyRow, LimitRow, OrgRow, TeamRow, UserRow
from tripoint.config.limits import LimitSpec
from tripoint.errors import PermissionDeniedError
from tripoint.storage.database import Database

NANO_PER_USD = 10**9
COUNTS = (
    "requests_per_minute",
    "tokens_per_minute",
    "input_tokens_per_minute",
    "output_tokens_per_minute",
    "max_concurrent",
)
BUDGETS = {  # the API's (and config's) USD field -> the table's nano-dollar column
    "budget_usd_per_day": "budget_nano_per_day",
    "budget_usd_per_month": "budget_nano_per_month",
    "budget_usd_total": "budget_nano_total",
}


class Scope(StrEnum):
    ORG = "org"
    TEAM = "team"
    KEY = "key"
    USER = "user"


@dataclass(frozen=True, slots=True)
class _Subject:
    """The object limits are set on: the team it belongs to, and (keys) its cached digest."""

    team_id: str | None
    digest: str | None = None
    role: Role | None = None  # keys and users: their role, which a team admin may not exceed


def fields_of(row: LimitRow) -> dict[str, int | Decimal]:
    """A stored row's limits, in the API's (and config's) units; unset fields left out."""
    values: dict[str, int | Decimal] = {}
    for name in COUNTS:
        if (count := getattr(row, name)) is not None:
            values[name] = int(count)
    for name, column in BUDGETS.items():
        if (nano := getattr(row, column)) is not None:
            values[name] = Decimal(nano) / NANO_PER_USD
    return values


def spec_of(row: LimitRow | None) -> LimitSpec | None:
    """What the limits stage enforces for a stored row (None: nothing stored)."""
    if row is None:
        return None
    values = fields_of(row)
    return LimitSpec.model_validate(values) if values else None


class LimitAdministration:
    def __init__(
        self,
        database: Database,
        *,
        forget: Callable[[str | None], None] = lambda digest: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._forget = forget  # drop a digest (None: everything) from this replica's key cache
        self._now = now

    async def get(self, actor: Actor, scope: Scope, subject_id: str) -> views.LimitsView:
        async with self._database.session() as session:
            await self._subject(session, actor, scope, subject_id)
            row = await session.get(LimitRow, (scope.value, subject_id))
        return _view(scope, subject_id, row)

    async def set(
        self, actor: Actor, scope: Scope, subject_id: str, body: views.LimitsBody
    ) -> views.LimitsView:
        """Replace the scope's stored limits with `body` (fields left out: no limit here)."""
        limits = body.model_dump(exclude_none=True)
        if not limits:
            return await self.clear(actor, scope, subject_id)
        async with self._database.session() as session:
            subject = await self._writable(session, actor, scope, subject_id)
            row = await session.get(LimitRow, (scope.value, subject_id))
            _may_change(actor, row)
            if row is None:
                row = LimitRow(scope=scope.value, subject_id=subject_id)
                session.add(row)
            row.team_id = subject.team_id
            for name in COUNTS:
                setattr(row, name, limits.get(name))
            for name, column in BUDGETS.items():
                usd = limits.get(name)
                setattr(row, column, None if usd is None else int(usd * NANO_PER_USD))
            row.updated_by = actor.principal.id[:80]
            row.updated_role = actor.role.value
            row.updated_at = self._now()
            detail: dict[str, object] = {name: str(v) for name, v in limits.items()}
            change = _change("limits.set", scope, subject_id, subject, detail)
            session.add(audit_entry(actor, change, self._now()))
        self._forget(subject.digest)
        return _view(scope, subject_id, row)

    async def clear(self, actor: Actor, scope: Scope, subject_id: str) -> views.LimitsView:
        async with self._database.session() as session:
            subject = await self._writable(session, actor, scope, subject_id)
            row = await session.get(LimitRow, (scope.value, subject_id))
            _may_change(actor, row)
            if row is not None:
                await session.delete(row)
                change = _change("limits.clear", scope, subject_id, subject, {})
                session.add(audit_entry(actor, change, self._now()))
        self._forget(subject.digest)
        return _view(scope, subject_id, None)

    async def _writable(
        self, session: AsyncSession, actor: Actor, scope: Scope, subject_id: str
    ) -> _Subject:
        if scope in (Scope.ORG, Scope.TEAM):
            actor.demand(Role.ADMIN)  # a team admin cannot raise its own team's limits
        actor.demand(Role.TEAM_ADMIN)
        subject = await self._subject(session, actor, scope, subject_id)
        if subject.role is not None and not actor.role.covers(subject.role):
            raise PermissionDeniedError(
                f"You cannot set limits on a {scope.value} above your own role."
            )
        return subject

    async def _subject(
        self, session: AsyncSession, actor: Actor, scope: Scope, subject_id: str
    ) -> _Subject:
        """The object, if it exists and the actor may see it; else 404 (never 403)."""
        found: _Subject | None = None
        if not plausible(subject_id):
            raise missing(scope.value, subject_id)
        match scope:
            case Scope.ORG:
                actor.demand(Role.ADMIN)  # orgs are an admin's, as in the rest of the API
                org = await session.get(OrgRow, subject_id)
                found = None if org is None else _Subject(None)
            case Scope.TEAM:
                team = await session.get(TeamRow, subject_id)
                found = None if team is None else _Subject(team.id)
            case Scope.KEY:
                key = await session.get(KeyRow, subject_id)
                found = None if key is None else _Subject(key.team_id, key.digest, Role(key.role))
            case Scope.USER:
                user = await session.get(UserRow, subject_id)
                found = None if user is None else _Subject(user.team_id, None, Role(user.role))
        if found is None or (scope is not Scope.ORG and not sees(actor, found.team_id)):
            raise missing(scope.value, subject_id)
        return found


def _may_change(actor: Actor, row: LimitRow | None) -> None:
    """Limits an admin set on a key or user bind its team admin too: only as high a role may
    change or clear them."""
    if row is not None and not actor.role.covers(Role(row.updated_role)):
        raise PermissionDeniedError(
            f"These limits were set by a {row.updated_role}; only a {row.updated_role} may "
            "change them."
        )


def _change(
    action: str, scope: Scope, subject_id: str, subject: _Subject, detail: dict[str, object]
) -> Change:
    return Change(action, scope.value, subject_id, subject.team_id, detail)


def _view(scope: Scope, subject_id: str, row: LimitRow | None) -> views.LimitsView:
    if row is None:
        return views.LimitsView(scope=scope.value, id=subject_id)
    return views.LimitsView.model_validate(
        {
            "scope": scope.value,
            "id": subject_id,
            **fields_of(row),
            "updated_by": row.updated_by,
            "updated_role": row.updated_role,
            "updated_at": row.updated_at,
        }
    )
