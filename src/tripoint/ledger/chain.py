"""The hash chain: each record holds the hash of the one before it in its stream. Pure.

A record's hash covers every stored field (its stream and position included) and the previous
hash, so altering, deleting, inserting or reordering any record breaks the chain at that
record; cutting the end of a chain off breaks it against the stream's head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

GENESIS = "0" * 64
CONTENT = (
    "stream",
    "seq",
    "request_id",
    "created_at",
    "principal_id",
    "key_id",
    "team_id",
    "team_name",
    "model",
    "operation",
    "backend",
    "target_model",
    "pattern",
    "region",
    "data_class",
    "status",
    "error_type",
    "prompt_tokens",
    "completion_tokens",
    "cost_nano",
    "latency_ms",
    "ttft_ms",
    "attempts",
    "cache_hit",
    "detail",
)


def link(prev_hash: str, values: Mapping[str, Any]) -> str:
    body = {name: _plain(values.get(name)) for name in CONTENT}
    material = prev_hash.encode() + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(material).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, float):
        return round(value, 3)  # what every database stores faithfully
    return value


@dataclass(frozen=True, slots=True)
class Break:
    """The first record where a chain does not hold."""

    stream: str
    seq: int | None
    id: int | None
    reason: str


class Verifier:
    """Feed rows ordered by (stream, seq); stops being useful at the first break."""

    def __init__(self, heads: Mapping[str, tuple[int, str]]) -> None:
        self._heads = heads
        self._stream: str | None = None
        self._prev_hash, self._prev_seq = GENESIS, 0
        self._seen: set[str] = set()
        self.checked = 0

    def feed(self, row: Mapping[str, Any]) -> Break | None:
        if row["stream"] != self._stream:
            if self._stream is not None and (found := self._tail()):
                return found
            self._stream, self._prev_hash, self._prev_seq = row["stream"], GENESIS, 0
            self._seen.add(row["stream"])
        if found := _link_break(row, self._prev_seq, self._prev_hash):
            return found
        self._prev_hash, self._prev_seq = row["hash"], row["seq"]
        self.checked += 1
        return None

    def finish(self) -> Break | None:
        if self._stream is not None and (found := self._tail()):
            return found
        for missing in sorted(set(self._heads) - self._seen):
            return Break(missing, None, None, "all records of this stream are gone")
        return None

    def _tail(self) -> Break | None:
        assert self._stream is not None  # noqa: S101 -- only called within a stream
        return _tail(self._stream, self._prev_seq, self._prev_hash, self._heads)


def verify(
    rows: Iterable[Mapping[str, Any]], heads: Mapping[str, tuple[int, str]]
) -> tuple[int, Break | None]:
    """Check rows ordered by (stream, seq): how many held, and the first break."""
    verifier = Verifier(heads)
    for row in rows:
        if found := verifier.feed(row):
            return verifier.checked, found
    return verifier.checked, verifier.finish()


def _link_break(row: Mapping[str, Any], prev_seq: int, prev_hash: str) -> Break | None:
    where = (row["stream"], row["seq"], row["id"])
    if row["seq"] != prev_seq + 1:
        return Break(*where, f"expected record {prev_seq + 1} of the stream")
    if row["prev_hash"] != prev_hash:
        return Break(*where, "does not follow the record before it")
    if link(prev_hash, row) != row["hash"]:
        return Break(*where, "content does not match its hash (altered)")
    return None


def _tail(stream: str, seq: int, last: str, heads: Mapping[str, tuple[int, str]]) -> Break | None:
    head = heads.get(stream)
    if head is None:
        return Break(stream, seq, None, "stream has no head (inserted outside the ledger)")
    if head != (seq, last):
        return Break(stream, seq + 1, None, f"records after {seq} are missing (head is {head[0]})")
    return None
