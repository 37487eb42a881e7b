"""What the batch lane stores: uploaded files and batch jobs (frozen; stores hand out copies)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

import orjson

# Ids are opaque tokens; anything else is not found before any storage is touched.
FILE_ID = re.compile(r"^file-[0-9a-f]{24}$")
BATCH_ID = re.compile(r"^batch_[0-9a-f]{24}$")
ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
# OpenAI's statuses; `validating` -> `in_progress` -> `finalizing` -> `completed`, or
# `cancelling` -> `cancelled`, or `failed` (the input file itself is unusable).
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")


def new_file_id() -> str:
    return f"file-{secrets.token_hex(12)}"


def new_batch_id() -> str:
    return f"batch_{secrets.token_hex(12)}"


def output_file_id(batch_id: str, kind: str) -> str:
    """The id of a batch's output (or error) file, fixed by the batch: a finalisation that is
    interrupted and done again overwrites its file instead of leaving an orphan."""
    return f"file-{hashlib.sha256(f'{batch_id}/{kind}'.encode()).hexdigest()[:24]}"


def now() -> int:
    return int(time.time())


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    owner: str  # the team (or principal) that uploaded it; others get 404
    purpose: str
    filename: str
    bytes: int
    created_at: int = field(default_factory=now)


@dataclass(frozen=True, slots=True)
class Counts:
    total: int = 0
    completed: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class BatchJob:
    id: str
    owner: str
    endpoint: str
    input_file_id: str
    completion_window: str = "24h"
    status: str = "validating"
    created_at: int = field(default_factory=now)
    counts: Counts = Counts()
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[str, ...] = ()  # why the batch failed as a whole
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # status -> when it was entered (in_progress_at, completed_at, ... on the wire)
    times: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # who submitted it (id, team, role, models, key): every line runs as this principal
    submitter: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # a batch handed to its model's native Batch API: {"model": public name, "batch_id": remote}
    remote: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class LineResult:
    """One input line's outcome, stored exactly once per custom_id."""

    custom_id: str
    line: int  # position in the input file, for output order
    ok: bool
    body: bytes  # the output (or error) JSONL line, without its newline


@dataclass(frozen=True, slots=True)
class InputLine:
    """One line of a batch's input file, stored when the batch starts so that any worker can
    run it without the file."""

    custom_id: str
    line: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to run one line until a deadline. `attempt` is the fencing token: a result is
    kept only from the lease that is still the line's latest (one that lapsed and was taken by
    another worker cannot write)."""

    batch_id: str
    custom_id: str
    line: int
    raw: bytes
    attempt: int


def dump_job(job: BatchJob) -> bytes:
    body = {name: getattr(job, name) for name in job.__dataclass_fields__}
    body["counts"] = asdict(job.counts)
    body["metadata"] = dict(job.metadata)
    body["times"] = dict(job.times)
    body["submitter"] = dict(job.submitter)
    body["remote"] = dict(job.remote)
    return orjson.dumps(body)


def load_job(raw: bytes) -> BatchJob:
    body = orjson.loads(raw)
    body["counts"] = Counts(**body["counts"])
    body["errors"] = tuple(body["errors"])
    body["metadata"] = MappingProxyType(body["metadata"])
    body["times"] = MappingProxyType(body["times"])
    body["submitter"] = MappingProxyType(body.get("submitter", {}))
    body["remote"] = MappingProxyType(body.get("remote", {}))
    return BatchJob(**body)
