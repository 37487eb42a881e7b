"""Alembic environment: migrates the connection handed over by `storage.migrate.upgrade`."""

from __future__ import annotations

from alembic import context

from tripoint.storage.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `tripoint db upgrade`, not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
)
with context.begin_transaction():
    context.run_migrations()
