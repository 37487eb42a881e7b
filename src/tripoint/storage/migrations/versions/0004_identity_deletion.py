"""Identity deletion: orgs, teams and users are marked deleted; names unique among the living.

Revision ID: 0004_identity_deletion
Revises: 0003_call_content
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tripoint.storage.base import UtcDateTime

revision = "0004_identity_deletion"
down_revision = "0003_call_content"
branch_labels = None
depends_on = None

# table, its unique column (a plain unique constraint until now)
_NAMED = (("orgs", "name"), ("teams", "name"), ("users", "email"))
_LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    for table, column in _NAMED:
        # On SQLite a constraint is dropped by copying the table (foreign keys are off while
        # migrating, see storage.database); on PostgreSQL these are plain ALTER TABLEs.
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("deleted_at", UtcDateTime(), nullable=True))
            batch.drop_constraint(f"uq_{table}_{column}", type_="unique")
        op.create_index(
            f"uq_{table}_{column}_live",
            table,
            [column],
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        )


def downgrade() -> None:
    for table, column in _NAMED:
        op.drop_index(f"uq_{table}_{column}_live", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.create_unique_constraint(f"uq_{table}_{column}", [column])
            batch.drop_column("deleted_at")
