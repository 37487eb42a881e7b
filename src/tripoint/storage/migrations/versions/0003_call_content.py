"""Captured prompts and answers (opt-in per team, redacted), linked to call records.

Revision ID: 0003_call_content
Revises: 0002_call_ledger
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tripoint.storage.base import UtcDateTime

revision = "0003_call_content"
down_revision = "0002_call_ledger"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "call_content",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("team_id", sa.String(40), nullable=True),
        sa.Column("team_name", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("data_class", sa.String(40), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_content"),
    )
    op.create_index("ix_call_content_request_id", "call_content", ["request_id"])
    op.create_index("ix_call_content_expires_at", "call_content", ["expires_at"])
    op.create_index(
        "ix_call_content_team_name_created_at", "call_content", ["team_name", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("call_content")
