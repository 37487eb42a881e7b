"""The batch lane's tables in the SQL store: jobs, their input lines (lease and result), files."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tripoint.storage.base import Base


class BatchJobRow(Base):
    __tablename__ = "batch_jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the whole job, as records.dump_job
    # who validates or finalises it now, and until when (epoch seconds on the database's clock)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[float] = mapped_column(Float, default=0.0)


class BatchLineRow(Base):
    """One input line. `ok` and `body` are its result, written once; `attempt` counts leases
    and fences writes; `sealed` lines (a cancelled batch's leftovers) take no result."""

    __tablename__ = "batch_lines"
    __table_args__ = (
        # leasing scans only the lines still open, however long the batch
        Index(
            "ix_batch_lines_open",
            "batch_id",
            "line",
            postgresql_where=text("ok IS NULL"),
            sqlite_where=text("ok IS NULL"),
        ),
    )

    batch_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    custom_id: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


class BatchFileRow(Base):
    """Uploaded and output files, when they live in the database (every replica and worker
    reads them, with no shared disk)."""

    __tablename__ = "batch_files"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column("bytes", BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
