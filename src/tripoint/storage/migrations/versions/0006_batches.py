"""Batch lane: jobs, their lines (lease and result each), and files kept in the database.

Revision ID: 0006_batches
Revises: 0005_scope_limits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_batches"
down_revision = "0005_scope_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("claimed_by", sa.String(120), nullable=True),
        sa.Column("claimed_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_batch_jobs"),
    )
    op.create_index("ix_batch_jobs_owner", "batch_jobs", ["owner"])
    op.create_index("ix_batch_jobs_status", "batch_jobs", ["status"])
    op.create_table(
        "batch_lines",
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("custom_id", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(120), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "line", name="pk_batch_lines"),
    )
    op.create_index(
        "ix_batch_lines_open",
        "batch_lines",
        ["batch_id", "line"],
        postgresql_where=sa.text("ok IS NULL"),
        sqlite_where=sa.text("ok IS NULL"),
    )
    op.create_table(
        "batch_files",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_batch_files"),
    )
    op.create_index("ix_batch_files_owner", "batch_files", ["owner"])


def downgrade() -> None:
    op.drop_table("batch_files")
    op.drop_index("ix_batch_lines_open", table_name="batch_lines")
    op.drop_table("batch_lines")
    op.drop_table("batch_jobs")
