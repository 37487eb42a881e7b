"""Limits set through the admin API on orgs, teams, keys and users.

Revision ID: 0005_scope_limits
Revises: 0004_identity_deletion
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tripoint.storage.base import UtcDateTime

revision = "0005_scope_limits"
down_revision = "0004_identity_deletion"
branch_labels = None
depends_on = None

_FIELDS = (
    "requests_per_minute",
    "tokens_per_minute",
    "input_tokens_per_minute",
    "output_tokens_per_minute",
    "max_concurrent",
    "budget_nano_per_day",
    "budget_nano_per_month",
    "budget_nano_total",
)


def upgrade() -> None:
    op.create_table(
        "scope_limits",
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("team_id", sa.String(40), nullable=True),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in _FIELDS),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_role", sa.String(20), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject_id", name="pk_scope_limits"),
    )


def downgrade() -> None:
    op.drop_table("scope_limits")
