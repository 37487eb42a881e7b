"""The four roles, ranked: each may do what the roles below it may."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads its team's keys, users and audit entries; calls no model
    MEMBER = "member"  # calls the models its team may use
    TEAM_ADMIN = "team_admin"  # manages its own team's users and keys
    ADMIN = "admin"  # everything, every organisation

    @property
    def rank(self) -> int:
        return _RANK[self]

    def covers(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.TEAM_ADMIN: 3, Role.ADMIN: 4}
