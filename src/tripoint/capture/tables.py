"""The `call_content` table: one team's opted-in, redacted prompt and answer for one call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tripoint.storage.base import Base, UtcDateTime

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER


class ContentRow(Base):
    """Linked to its call record by request id and start time (`created_at` is the same
    instant in both rows): a client may reuse a request id, never at the same microsecond."""

    __tablename__ = "call_content"
    __table_args__ = (Index("ix_call_content_team_name_created_at", "team_name", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    team_id: Mapped[str | None] = mapped_column(String(40))
    team_name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(20))
    data_class: Mapped[str] = mapped_column(String(40))
    request: Mapped[list[Any]] = mapped_column(JSON)  # [{role, text}], redacted
    response: Mapped[list[Any]] = mapped_column(JSON)  # [{index, text, tool_calls...}], redacted
    complete: Mapped[bool] = mapped_column(Boolean)  # the answer ended normally
    truncated: Mapped[bool] = mapped_column(Boolean)  # cut to the team's max_bytes
