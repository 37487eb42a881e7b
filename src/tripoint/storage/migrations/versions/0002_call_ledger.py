"""Call ledger: one hash-chained record per call, and each chain's head.

Revision ID: 0002_call_ledger
Revises: 0001_identity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tripoint.storage.base import UtcDateTime

revision = "0002_call_ledger"
down_revision = "0001_identity"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("stream", sa.String(120), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("team_id", sa.String(40), nullable=True),
        sa.Column("team_name", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("backend", sa.String(200), nullable=True),
        sa.Column("target_model", sa.String(300), nullable=True),
        sa.Column("pattern", sa.String(20), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("data_class", sa.String(40), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(60), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_nano", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_records"),
        sa.UniqueConstraint("stream", "seq", name="uq_call_records_stream_seq"),
    )
    for column in ("created_at", "key_id", "team_id", "model"):
        op.create_index(f"ix_call_records_{column}", "call_records", [column])
    op.create_table(
        "ledger_heads",
        sa.Column("stream", sa.String(120), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("stream", name="pk_ledger_heads"),
    )


def downgrade() -> None:
    op.drop_table("ledger_heads")
    op.drop_table("call_records")
