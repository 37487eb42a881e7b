"""The most recent finished Records in memory, queryable by request id, model or status."""

from __future__ import annotations

from collections import deque

from tripoint.pipeline.call import Record


class RecentRecords:
    """A bounded window for operators and tests; the durable ledger is a separate sink."""

    name = "recent"

    def __init__(self, size: int) -> None:
        self._records: deque[Record] = deque(maxlen=size)

    def write(self, record: Record) -> None:
        self._records.append(record)

    def find(self, request_id: str) -> Record | None:
        return next((r for r in reversed(self._records) if r.request_id == request_id), None)

    def query(
        self, *, model: str | None = None, status: int | None = None, limit: int = 100
    ) -> list[Record]:
        """Newest first."""
        found: list[Record] = []
        for record in reversed(self._records):
            if (model is None or record.model == model) and (
                status is None or record.status == status
            ):
                found.append(record)
                if len(found) == limit:
                    break
        return found
