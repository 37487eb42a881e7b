"""The roles, ranked: each may do what the roles below it may. `auditor` reads like a viewer
and, besides, the stored prompts of its team; only `admin` and `auditor` cover it."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tripoint.pipeline.call import Principal


class Role(StrEnum):
    VIEWER = "viewer"  # reads its team's keys, users and audit entries; calls no model
    MEMBER = "member"  # calls the models its team may use
    TEAM_ADMIN = "team_admin"  # manages its own team's users and keys
    ADMIN = "admin"  # everything, every organisation
    AUDITOR = "auditor"  # a viewer that may also read its team's captured prompts

    @property
    def rank(self) -> int:
        return _RANK[self]

    def covers(self, other: Role) -> bool:
        if other is Role.AUDITOR:  # outside the ranking: a team admin cannot mint one
            return self in (Role.AUDITOR, Role.ADMIN)
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 1, Role.AUDITOR: 1, Role.MEMBER: 2, Role.TEAM_ADMIN: 3, Role.ADMIN: 4}


def usable(principal: Principal, model: str) -> bool:
    """What `GET /v1/models` lists: models this principal's role and allowlist let it call."""
    return Role(principal.role).covers(Role.MEMBER) and principal.may_use(model)
