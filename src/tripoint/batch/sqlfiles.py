"""Uploaded and output files in the SQL store, for replicas and workers with no shared disk.

A file is one row (content included, up to `batch.max_file_bytes`); ids are looked up as
values, never as paths, and another owner's file is absent.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete, insert, select

from tripoint.batch.records import FILE_ID, StoredFile
from tripoint.batch.tables import BatchFileRow
from tripoint.storage.database import Database

Files = cast(Table, BatchFileRow.__table__)
_META = (Files.c.id, Files.c.owner, Files.c.purpose, Files.c.filename, Files.c.bytes)


class SqlFileStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def put(self, file: StoredFile, content: bytes) -> None:
        row: dict[str, object] = {"id": file.id, "owner": file.owner, "purpose": file.purpose}
        row |= {"filename": file.filename, "bytes": file.bytes, "created_at": file.created_at}
        async with self._db.session() as session:  # replaced whole: output files are redone
            await session.execute(delete(Files).where(Files.c.id == file.id))
            await session.execute(insert(Files).values(**row, content=content))

    async def get(self, file_id: str, owner: str) -> StoredFile | None:
        if not FILE_ID.match(file_id):
            return None
        query = select(*_META, Files.c.created_at).where(
            Files.c.id == file_id, Files.c.owner == owner
        )
        async with self._db.session() as session:
            row = (await session.execute(query)).first()
        return None if row is None else StoredFile(*row)

    async def content(self, file_id: str, owner: str) -> bytes | None:
        if not FILE_ID.match(file_id):
            return None
        query = select(Files.c.content).where(Files.c.id == file_id, Files.c.owner == owner)
        async with self._db.session() as session:
            content = await session.scalar(query)
        return None if content is None else bytes(content)

    async def delete(self, file_id: str, owner: str) -> bool:
        if not FILE_ID.match(file_id):
            return False
        change = delete(Files).where(Files.c.id == file_id, Files.c.owner == owner)
        async with self._db.session() as session:
            result = await session.execute(change)
        return bool(getattr(result, "rowcount", 0))

    async def owned(self, owner: str) -> list[StoredFile]:
        query = (
            select(*_META, Files.c.created_at)
            .where(Files.c.owner == owner)
            .order_by(Files.c.created_at.desc(), Files.c.id.desc())
        )
        async with self._db.session() as session:
            return [StoredFile(*row) for row in (await session.execute(query)).all()]
