"""The Files API (`/v1/files`), for batch input and output files, as OpenAI's."""

from __future__ import annotations

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from tripoint.api.guard import requires
from tripoint.auth.roles import Role
from tripoint.batch.records import StoredFile, new_file_id
from tripoint.batch.runner import BatchRunner
from tripoint.errors import InvalidRequestError, NotFoundError, RequestTooLargeError
from tripoint.gateway import Gateway
from tripoint.schema.json import JSONObject

PURPOSES = ("batch",)  # what clients may upload; `batch_output` is written by the runner


def batch_lane(request: Request) -> BatchRunner:
    gateway: Gateway = request.app.state.gateway
    runner = gateway.component("batches")
    if not isinstance(runner, BatchRunner):
        raise NotFoundError("the batch lane is disabled on this gateway (batch.enabled)")
    return runner


def owner_of(request: Request) -> str:
    """Whose files and batches these are. Until the identity stage exposes the principal to
    the edge, every caller is the anonymous principal; this is the one place to change."""
    principal = request.scope.get("state", {}).get("principal")
    team = getattr(principal, "team", None) or getattr(principal, "id", None)
    return str(team) if team else "anonymous"


def file_json(file: StoredFile) -> JSONObject:
    return {
        "id": file.id,
        "object": "file",
        "bytes": file.bytes,
        "created_at": file.created_at,
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
        "status_details": None,
    }


@requires(Role.MEMBER)
async def upload(request: Request) -> Response:
    runner = batch_lane(request)
    limit = request.app.state.gateway.settings.batch.max_file_bytes
    async with request.form(max_files=1, max_fields=4) as form:
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose not in PURPOSES:
            raise InvalidRequestError(f"purpose must be one of {list(PURPOSES)}", param="purpose")
        if not isinstance(upload, UploadFile):
            raise InvalidRequestError("a file is required (multipart field 'file')", param="file")
        content = await upload.read(limit + 1)
        if len(content) > limit:
            raise RequestTooLargeError(f"the file exceeds the limit of {limit} bytes")
        name = (upload.filename or "upload.jsonl").rsplit("/", 1)[-1][:255]
    stored = StoredFile(new_file_id(), owner_of(request), str(purpose), name, len(content))
    await runner.files.put(stored, content)
    return _json(file_json(stored))


@requires(Role.MEMBER)
async def list_files(request: Request) -> Response:
    files = await batch_lane(request).files.owned(owner_of(request))
    return _json({"object": "list", "data": [file_json(f) for f in files], "has_more": False})


@requires(Role.MEMBER)
async def retrieve(request: Request) -> Response:
    return _json(file_json(await _file(request)))


@requires(Role.MEMBER)
async def content(request: Request) -> Response:
    file = await _file(request)
    data = await batch_lane(request).files.content(file.id, file.owner)
    if data is None:
        raise _missing(file.id)
    return Response(data, media_type="application/octet-stream")


@requires(Role.MEMBER)
async def delete(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    if not await batch_lane(request).files.delete(file_id, owner_of(request)):
        raise _missing(file_id)
    return _json({"id": file_id, "object": "file", "deleted": True})


async def _file(request: Request) -> StoredFile:
    file_id = request.path_params["file_id"]
    file = await batch_lane(request).files.get(file_id, owner_of(request))
    if file is None:
        raise _missing(file_id)
    return file


def _missing(file_id: str) -> NotFoundError:
    return NotFoundError(f"No such File object: {file_id[:64]}", param="id")


def _json(body: JSONObject) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")
