"""The identity tables: orgs > teams > users, API keys, the limits set on them, the audit log.

Orgs, teams and users are deleted by marking them (`deleted_at`): their keys stay, revoked, and
the audit log and call ledger keep naming them. Names and emails are unique among the living
only (partial unique indexes), so a deleted team's name can be given to a new team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tripoint.storage.base import Base, UtcDateTime, utcnow

Id = String(40)
_LIVE = text("deleted_at IS NULL")


def unique_among_living(table: str, column: str) -> Index:
    return Index(
        f"uq_{table}_{column}_live",
        column,
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


class OrgRow(Base):
    __tablename__ = "orgs"
    __table_args__ = (unique_among_living("orgs", "name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TeamRow(Base):
    __tablename__ = "teams"
    __table_args__ = (unique_among_living("teams", "name"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # what JWT team claims name
    models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None: every model
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (unique_among_living("users", "email"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class KeyRow(Base):
    """A virtual API key. Only its HMAC is stored; prefix and last 4 identify it to people."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_team_id_created_at", "team_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC-SHA-256 hex
    prefix: Mapped[str] = mapped_column(String(16))
    last4: Mapped[str] = mapped_column(String(4))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"), nullable=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    role: Mapped[str] = mapped_column(String(20))
    models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None: the team's
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(Id, nullable=True)  # set by rotation


class AuditRow(Base):
    """One admin action: who did what to which object, when, and from where."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_team_id_at", "team_id", "at"),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(Id)
    team_id: Mapped[str | None] = mapped_column(Id, nullable=True)  # for team-scoped reads
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)  # client address
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never secrets


class LimitRow(Base):
    """Limits set through the admin API on one org, team, key or user (unset: no limit).

    Budgets are whole nano-dollars, as the limit counters keep them.
    """

    __tablename__ = "scope_limits"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # org | team | key | user
    subject_id: Mapped[str] = mapped_column(Id, primary_key=True)
    team_id: Mapped[str | None] = mapped_column(Id, nullable=True)  # for team-scoped reads
    requests_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tokens_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    input_tokens_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    output_tokens_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_concurrent: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    budget_nano_per_day: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    budget_nano_per_month: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    budget_nano_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_role: Mapped[str] = mapped_column(String(20))  # only as high a role may change them
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
