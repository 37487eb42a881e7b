"""Batches handed whole to a model's native Batch API: which batches, the file sent, and the
remote outcome mapped back (statuses, counts, output and error lines under the public model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tripoint.batch import lines
from tripoint.batch.native import RUNNING, NativeBatches
from tripoint.batch.records import Counts
from tripoint.errors import UpstreamError
from tripoint.pipeline.call import Principal
from tripoint.schema.json import JSONObject

FINAL = ("completed", "failed", "expired", "cancelled")  # OpenAI's, and ours


@dataclass(frozen=True, slots=True)
class Delegate:
    client: NativeBatches
    model: str  # the name the backend knows the model by


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    output: list[bytes]
    errors: list[bytes]
    counts: Counts
    why: tuple[str, ...]  # why the remote batch failed as a whole


def chosen(
    delegates: Mapping[str, Delegate],
    parsed: Sequence[lines.Line | lines.BadLine],
    principal: Principal,
) -> tuple[str, Delegate] | None:
    """(public model, delegate) when every line is valid and names one delegating model that
    the submitter may use; else the batch runs through the gateway (which reports the rest)."""
    models = {p.request.model if isinstance(p, lines.Line) else None for p in parsed}
    if len(models) != 1:
        return None
    (model,) = models
    if model is None or model not in delegates:
        return None
    if principal.models is not None and model not in principal.models:
        return None
    return model, delegates[model]


def upstream_file(raw: Sequence[bytes], model: str) -> bytes:
    """The input lines, each naming the model as the backend knows it."""
    rows = []
    for line in raw:
        data = orjson.loads(line)
        data["body"]["model"] = model
        rows.append(orjson.dumps(data))
    return b"\n".join(rows) + b"\n"


async def outcome(delegate: Delegate, remote: JSONObject, model: str) -> Outcome | None:
    """The remote batch's result once it is final (None while it runs)."""
    status = remote.get("status")
    if status in RUNNING:
        return None
    if not isinstance(status, str) or status not in FINAL:
        raise UpstreamError(f"the native batch API reported an unknown status {status!r:.40}")
    counts: Any = remote.get("request_counts") or {}
    errors: Any = remote.get("errors") or {}
    return Outcome(
        status,
        await _lines(delegate, remote.get("output_file_id"), model),
        await _lines(delegate, remote.get("error_file_id"), model),
        Counts(
            int(counts.get("total", 0)),
            int(counts.get("completed", 0)),
            int(counts.get("failed", 0)),
        ),
        tuple(str(e.get("message")) for e in errors.get("data") or () if isinstance(e, dict)),
    )


async def _lines(delegate: Delegate, file_id: object, model: str) -> list[bytes]:
    if not isinstance(file_id, str) or not file_id:
        return []
    content = await delegate.client.content(file_id)
    return [_public(line, model) for line in content.splitlines() if line.strip()]


def _public(line: bytes, model: str) -> bytes:
    """The answer as the gateway's callers know it: the public model name, not the backend's."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise UpstreamError("the native batch API wrote a line that is not JSON") from None
    response = data.get("response") if isinstance(data, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    if isinstance(body, dict) and "model" in body:
        body["model"] = model
    return orjson.dumps(data)
