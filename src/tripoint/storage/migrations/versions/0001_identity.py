"""Identity: orgs, teams, users, API keys, admin audit log.

Revision ID: 0001_identity
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tripoint.storage.base import UtcDateTime

revision = "0001_identity"
down_revision = None
branch_labels = None
depends_on = None


def _id(name: str = "id", **kwargs: object) -> sa.Column[str]:
    return sa.Column(name, sa.String(40), **kwargs)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "orgs",
        _id(primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orgs"),
        sa.UniqueConstraint("name", name="uq_orgs_name"),
    )
    op.create_table(
        "teams",
        _id(nullable=False),
        _id("org_id", nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_teams_org_id_orgs"),
        sa.UniqueConstraint("name", name="uq_teams_name"),
    )
    op.create_index("ix_teams_org_id", "teams", ["org_id"])
    op.create_table(
        "users",
        _id(nullable=False),
        _id("team_id", nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_users_team_id_teams"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_index("ix_users_team_id", "users", ["team_id"])
    op.create_table(
        "api_keys",
        _id(nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        _id("team_id", nullable=True),
        _id("user_id", nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        _id("replaced_by", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_api_keys_team_id_teams"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_keys_user_id_users"),
        sa.UniqueConstraint("digest", name="uq_api_keys_digest"),
    )
    op.create_index("ix_api_keys_team_id_created_at", "api_keys", ["team_id", "created_at"])
    op.create_table(
        "admin_audit",
        _id(nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_type", sa.String(20), nullable=False),
        _id("target_id", nullable=False),
        _id("team_id", nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_admin_audit"),
    )
    op.create_index("ix_admin_audit_at", "admin_audit", ["at"])
    op.create_index("ix_admin_audit_team_id_at", "admin_audit", ["team_id", "at"])


def downgrade() -> None:
    op.drop_table("admin_audit")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("teams")
    op.drop_table("orgs")
