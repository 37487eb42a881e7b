"""What a caller may grant: roles, models and lifetimes, never beyond its own (else 422)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tripoint.auth import views
from tripoint.auth.roles import Role
from tripoint.errors import PermissionDeniedError, UnprocessableError
from tripoint.pipeline.call import Principal


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, and from where: the audit log's who and where."""

    principal: Principal
    source: str | None = None
    request_id: str | None = None

    @property
    def role(self) -> Role:
        return Role(self.principal.role)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def demand(self, role: Role) -> None:
        if not self.role.covers(role):
            raise PermissionDeniedError(f"This needs the {role.value} role.")


class Grants:
    def __init__(
        self,
        known_models: frozenset[str],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._known_models = known_models
        self._now = now

    def role(self, actor: Actor, role: Role) -> Role:
        if not actor.role.covers(role):
            raise UnprocessableError(
                f"You cannot grant the {role.value} role: it is above your own.", param="role"
            )
        return role

    @staticmethod
    def role_for_user(role: Role, user_role: Role) -> None:
        if not user_role.covers(role):
            raise UnprocessableError("A key cannot carry more than its user's role.", param="role")

    def models(self, models: Sequence[str] | None) -> list[str] | None:
        if models is None:
            return None
        unknown = sorted(set(models) - self._known_models)
        if unknown:
            raise UnprocessableError(f"Unknown models: {', '.join(unknown)[:300]}", param="models")
        return sorted(set(models))

    def key_models(
        self, actor: Actor, team: list[str] | None, requested: Sequence[str] | None
    ) -> list[str] | None:
        """The key's allowlist: within the team's and within the caller's own, never wider."""
        models = self.models(requested)
        own = actor.principal.models
        if models is None:
            return None if own is None else sorted(own)
        if own is not None and not set(models) <= own:
            raise UnprocessableError("You cannot grant models you may not use.", param="models")
        if team is not None and not set(models) <= set(team):
            raise UnprocessableError("A key cannot widen its team's models.", param="models")
        return models

    def expiry(self, actor: Actor, body: views.NewKey) -> datetime | None:
        if body.expires_at is not None and body.expires_in is not None:
            raise UnprocessableError("Give expires_at or expires_in, not both.", param="expires_at")
        expires_at = body.expires_at
        if body.expires_in is not None:
            expires_at = self._now() + timedelta(seconds=body.expires_in)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise UnprocessableError("expires_at needs a time zone.", param="expires_at")
            if expires_at <= self._now():
                raise UnprocessableError("expires_at is in the past.", param="expires_at")
        own = actor.principal.expires_at
        outlives = own is not None and (expires_at is None or expires_at > own)
        if actor.principal.kind == "key" and outlives:
            raise UnprocessableError(
                "A key cannot outlive the key that creates it.", param="expires_at"
            )
        return expires_at
