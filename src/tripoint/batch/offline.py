"""Run a batch file offline, without a server: same config, same pipeline, resumable.

Results are appended to the output (and error) JSONL file as they finish, one flushed line
each; `resume` reads what is there, drops a torn last line, and runs only the missing ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from tripoint.batch import lines
from tripoint.batch.execution import Pipeline, execute
from tripoint.errors import InvalidRequestError


@dataclass(slots=True)
class Progress:
    total: int
    done: int = 0  # including lines already there when resuming
    errors: int = 0
    tokens: int = 0  # completion tokens produced in this run
    started: float = field(default_factory=time.monotonic)
    resumed: int = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        fresh = self.done - self.resumed
        rate = fresh / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_text = f"{eta:5.0f}s" if eta != float("inf") else "    ?"
        return (
            f"{self.done}/{self.total} lines  {self.tokens / elapsed:7.1f} tokens/s  "
            f"ETA {eta_text}  errors {self.errors}"
        )


async def run_file(
    pipeline: Pipeline,
    source: Path,
    output: Path,
    *,
    endpoint: str,
    model: str | None = None,
    resume: bool = False,
    concurrency: int = 4,
    report: Callable[[Progress], None] = lambda _: None,
) -> Progress:
    errors_path = output.with_name(output.stem + ".errors.jsonl")
    parsed, done, failed = await asyncio.to_thread(
        _prepare, source, (output, errors_path), endpoint, model, resume
    )
    progress = Progress(len(parsed), done=len(done), errors=len(failed), resumed=len(done))
    pending = iter([(n, p) for n, p in enumerate(parsed) if p.custom_id not in done])
    with output.open("ab") as out, errors_path.open("ab") as err:

        async def worker() -> None:
            for number, line in pending:
                result = await execute(pipeline, number, line)
                _append(out if result.ok else err, result.body)
                progress.done += 1
                progress.errors += not result.ok
                progress.tokens += _completion_tokens(result.body)
                report(progress)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    await asyncio.to_thread(_drop_if_empty, errors_path)
    return progress


def _prepare(
    source: Path, outputs: tuple[Path, Path], endpoint: str, model: str | None, resume: bool
) -> tuple[list[lines.Line | lines.BadLine], set[str], set[str]]:
    """The parsed input, the custom_ids an earlier run answered, and those that failed."""
    rows = [r for r in source.read_bytes().splitlines() if r.strip()]
    parsed = [lines.parse(_with_model(raw, model), n, endpoint) for n, raw in enumerate(rows)]
    ids = [p.custom_id for p in parsed]
    if len(set(ids)) != len(ids):
        raise InvalidRequestError("custom_id values must be unique within a batch")
    done = _finished(*outputs, resume=resume) & set(ids)
    failed = set(_kept_ids(outputs[1])) & done if outputs[1].exists() else set()
    return parsed, done, failed


def _drop_if_empty(path: Path) -> None:
    if path.exists() and path.stat().st_size == 0:
        path.unlink()


def _finished(output: Path, errors: Path, *, resume: bool) -> set[str]:
    existing = [p for p in (output, errors) if p.exists() and p.stat().st_size > 0]
    if existing and not resume:
        raise InvalidRequestError(f"{existing[0]} exists: pass --resume to continue it")
    return {custom_id for path in existing for custom_id in _kept_ids(path)}


def _kept_ids(path: Path) -> list[str]:
    """custom_ids of the whole lines in `path`; a torn last line (a kill mid-write) is cut."""
    data = path.read_bytes()
    kept, ids = 0, []
    for raw in data.splitlines(keepends=True):
        custom_id = _custom_id(raw) if raw.endswith(b"\n") else None
        if custom_id is None:
            break
        ids.append(custom_id)
        kept += len(raw)
    if kept < len(data):
        with path.open("r+b") as f:
            f.truncate(kept)
    return ids


def _custom_id(raw: bytes) -> str | None:
    try:
        value = orjson.loads(raw).get("custom_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _with_model(raw: bytes, model: str | None) -> bytes:
    if model is None:
        return raw
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw  # reported as invalid JSON by the parser
    if isinstance(data, dict) and isinstance(data.get("body"), dict):
        data["body"]["model"] = model
    return orjson.dumps(data)


def _append(out: BinaryIO, line: bytes) -> None:
    out.write(line + b"\n")
    out.flush()


def _completion_tokens(line: bytes) -> int:
    try:
        usage = orjson.loads(line)["response"]["body"]["usage"]
        return int(usage.get("completion_tokens") or 0)
    except (KeyError, TypeError, AttributeError, ValueError):
        return 0
