"""Uploaded files on local disk under the data directory: `files/<id>` plus `<id>.json`.

Only ids matching the opaque pattern reach the filesystem, so no id can address a path.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import asdict
from pathlib import Path

import orjson

from tripoint.batch.records import FILE_ID, StoredFile


class DiskFileStore:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def put(self, file: StoredFile, content: bytes) -> None:
        await asyncio.to_thread(self._put, file, content)

    async def get(self, file_id: str, owner: str) -> StoredFile | None:
        return await asyncio.to_thread(self._get, file_id, owner)

    async def content(self, file_id: str, owner: str) -> bytes | None:
        if await self.get(file_id, owner) is None:
            return None
        return await asyncio.to_thread((self._folder / file_id).read_bytes)

    async def delete(self, file_id: str, owner: str) -> bool:
        if await self.get(file_id, owner) is None:
            return False
        for path in (self._folder / f"{file_id}.json", self._folder / file_id):
            path.unlink(missing_ok=True)  # the metadata first: a half-deleted file is invisible
        return True

    async def owned(self, owner: str) -> list[StoredFile]:
        return await asyncio.to_thread(self._owned, owner)

    def _put(self, file: StoredFile, content: bytes) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(self._folder / file.id, content)
        _write_atomically(self._folder / f"{file.id}.json", orjson.dumps(asdict(file)))

    def _get(self, file_id: str, owner: str) -> StoredFile | None:
        if not FILE_ID.match(file_id):
            return None
        try:
            meta = orjson.loads((self._folder / f"{file_id}.json").read_bytes())
        except FileNotFoundError:
            return None
        file = StoredFile(**meta)
        return file if file.owner == owner else None

    def _owned(self, owner: str) -> list[StoredFile]:
        if not self._folder.is_dir():
            return []
        files = [self._get(p.stem, owner) for p in self._folder.glob("file-*.json")]
        return sorted((f for f in files if f), key=lambda f: f.created_at, reverse=True)


def _write_atomically(path: Path, data: bytes) -> None:
    # a name of its own: two writers of one output file (a finisher whose claim lapsed and
    # the one that took over) each rename a whole file, never each other's half
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.rename(path)
