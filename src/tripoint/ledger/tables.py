"""The `call_records` table (one row per call) and `ledger_heads` (each chain's last link)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tripoint.storage.base import Base, UtcDateTime

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER


class CallRow(Base):
    __tablename__ = "call_records"
    __table_args__ = (UniqueConstraint("stream", "seq", name="uq_call_records_stream_seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(120))  # one chain per writer process
    seq: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    principal_id: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str | None] = mapped_column(String(40), index=True)
    team_id: Mapped[str | None] = mapped_column(String(40), index=True)
    team_name: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200), index=True)
    operation: Mapped[str] = mapped_column(String(20))
    backend: Mapped[str | None] = mapped_column(String(200))
    target_model: Mapped[str | None] = mapped_column(String(300))
    pattern: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(100))
    data_class: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(60))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cost_nano: Mapped[int] = mapped_column(BigInteger)  # USD 1e-9, exact
    latency_ms: Mapped[float] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    cache_hit: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # policies, guardrail verdicts
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class HeadRow(Base):
    """The last link of each chain, updated with every batch: cutting records off the end of
    a chain (which no link could reveal) shows as a head that points past the rows."""

    __tablename__ = "ledger_heads"

    stream: Mapped[str] = mapped_column(String(120), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
