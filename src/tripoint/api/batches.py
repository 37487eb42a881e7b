"""The Batches API (`/v1/batches`), as OpenAI's; the batch runner does the work."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from tripoint.api.body import parse_request
from tripoint.api.files import batch_lane, owner_of
from tripoint.api.guard import requires
from tripoint.auth.roles import Role
from tripoint.batch.execution import snapshot
from tripoint.batch.records import ACTIVE, BatchJob, Counts, new_batch_id, now
from tripoint.batch.runner import BatchRunner
from tripoint.errors import InvalidRequestError, NotFoundError
from tripoint.pipeline.call import Principal
from tripoint.schema.json import JSONObject

_TIMES = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")


class CreateBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    input_file_id: str = Field(min_length=1)
    endpoint: Literal["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]
    completion_window: Literal["24h"] = "24h"
    metadata: dict[str, str] | None = Field(default=None, max_length=16)


def batch_json(job: BatchJob) -> JSONObject:
    body: JSONObject = {
        "id": job.id,
        "object": "batch",
        "endpoint": job.endpoint,
        "errors": (
            {"object": "list", "data": [{"code": "failed", "message": e} for e in job.errors]}
            if job.errors
            else None
        ),
        "input_file_id": job.input_file_id,
        "completion_window": job.completion_window,
        "status": job.status,
        "output_file_id": job.output_file_id,
        "error_file_id": job.error_file_id,
        "created_at": job.created_at,
        "expires_at": job.created_at + 24 * 3600,
        "request_counts": {
            "total": job.counts.total,
            "completed": job.counts.completed,
            "failed": job.counts.failed,
        },
        "metadata": dict(job.metadata) or None,
    }
    for status in _TIMES:
        body[f"{status}_at"] = job.times.get(status)
    return body


@requires(Role.MEMBER)
async def create(request: Request) -> Response:
    runner = batch_lane(request)
    limit = request.app.state.gateway.settings.server.max_body_bytes
    body = await parse_request(request, CreateBatch, limit)
    owner = owner_of(request)
    file = await runner.files.get(body.input_file_id, owner)
    if file is None or file.purpose != "batch":
        raise InvalidRequestError(
            f"no batch input file {body.input_file_id[:64]!r}", param="input_file_id"
        )
    job = BatchJob(
        id=new_batch_id(),
        owner=owner,
        endpoint=body.endpoint,
        input_file_id=file.id,
        completion_window=body.completion_window,
        metadata=body.metadata or {},
        submitter=_submitter(request),
    )
    await runner.batches.create(job)
    runner.wake()
    return _json(batch_json(job))


@requires(Role.MEMBER)
async def retrieve(request: Request) -> Response:
    return _json(batch_json(await _progress(batch_lane(request), await _batch(request))))


@requires(Role.MEMBER)
async def list_batches(request: Request) -> Response:
    limit = _limit(request.query_params.get("limit"))
    after = request.query_params.get("after")
    runner = batch_lane(request)
    jobs = await runner.batches.owned(owner_of(request))
    if after:
        ids = [j.id for j in jobs]
        jobs = jobs[ids.index(after) + 1 :] if after in ids else []
    page = jobs[:limit]
    return _json(
        {
            "object": "list",
            "data": [batch_json(await _progress(runner, j)) for j in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(jobs) > limit,
        }
    )


@requires(Role.MEMBER)
async def cancel(request: Request) -> Response:
    runner = batch_lane(request)
    job = await _batch(request)
    if job.status not in ("validating", "in_progress", "cancelling"):
        raise InvalidRequestError(f"a batch that is {job.status} cannot be cancelled")
    if job.status != "cancelling":
        cancelling = replace(job, status="cancelling", times={**job.times, "cancelling": now()})
        if not await runner.batches.save(cancelling, expect=job.status):
            raise InvalidRequestError("the batch changed state meanwhile; retry the cancel")
        job = cancelling
    runner.cancel(job.id)
    return _json(batch_json(await _progress(runner, job)))


async def _progress(runner: BatchRunner, job: BatchJob) -> BatchJob:
    """Live request counts while the batch runs (the stored ones are final)."""
    if job.status not in ACTIVE:
        return job
    succeeded, failed = await runner.batches.tally(job.id)
    return replace(job, counts=Counts(job.counts.total, succeeded, failed))


async def _batch(request: Request) -> BatchJob:
    batch_id = request.path_params["batch_id"]
    job = await batch_lane(request).batches.get(batch_id, owner_of(request))
    if job is None:
        raise NotFoundError(f"No such Batch object: {batch_id[:64]}", param="id")
    return job


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise InvalidRequestError("limit must be between 1 and 100", param="limit")
    return int(raw)


def _submitter(request: Request) -> dict[str, object]:
    principal = request.scope.get("state", {}).get("principal")
    return snapshot(principal) if isinstance(principal, Principal) else {}


def _json(body: JSONObject) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")
