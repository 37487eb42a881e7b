"""The SQL store: one async engine per gateway, Alembic migrations, the shared table base."""

from tripoint.storage.base import Base
from tripoint.storage.database import Database, database_url

__all__ = ["Base", "Database", "database_url"]
