"""A loopback fake of OpenAI's Files and Batches APIs, in their wire format (openai-python's
`FileObject` and `Batch` types): upload, create, retrieve, cancel, file content.

Each retrieve moves a batch one step, validating -> in_progress -> completed (or failed, when
`fail_with` is set); a cancel makes it cancelling, then cancelled. On completion every input
line gets a chat completion answer (model as the line named it), or an error line when its
body asks for `"fail": true`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.app_thread import AppThread


@dataclass
class RemoteBatch:
    body: dict[str, Any]
    lines: list[dict[str, Any]]
    retrieved: int = 0


@dataclass
class FakeOpenAIBatches(AppThread):
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, RemoteBatch] = field(default_factory=dict)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, auth
    fail_with: str | None = None
    port: int = 0
    name = "fake-openai-batches"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._log)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches/{id}", self._retrieve)
        app.router.add_post("/v1/batches/{id}/cancel", self._cancel)

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.seen.append((request.method, request.path, request.headers.get("Authorization")))
        response: web.StreamResponse = await handler(request)
        return response

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert form["purpose"] == "batch"
        assert isinstance(upload, web.FileField)
        file_id = f"file-{secrets.token_hex(12)}"
        self.files[file_id] = upload.file.read()
        return web.json_response(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(self.files[file_id]),
                "created_at": int(time.time()),
                "filename": upload.filename,
                "purpose": "batch",
                "status": "processed",
            }
        )

    async def _content(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["id"])
        if content is None:
            return _error(404, "No such File object")
        return web.Response(body=content, content_type="application/octet-stream")

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        content = self.files.get(body["input_file_id"])
        if content is None:
            return _error(400, "input_file_id not found")
        batch_id = f"batch_{secrets.token_hex(12)}"
        lines = [orjson.loads(line) for line in content.splitlines() if line.strip()]
        remote = RemoteBatch(_batch(batch_id, body, len(lines)), lines)
        self.batches[batch_id] = remote
        return web.json_response(remote.body)

    async def _retrieve(self, request: web.Request) -> web.Response:
        remote = self.batches.get(request.match_info["id"])
        if remote is None:
            return _error(404, "No such Batch object")
        remote.retrieved += 1
        self._advance(remote)
        return web.json_response(remote.body)

    async def _cancel(self, request: web.Request) -> web.Response:
        remote = self.batches.get(request.match_info["id"])
        if remote is None:
            return _error(404, "No such Batch object")
        _enter(remote.body, "cancelling")
        return web.json_response(remote.body)

    def _advance(self, remote: RemoteBatch) -> None:
        status = remote.body["status"]
        if status == "validating":
            _enter(remote.body, "in_progress")
        elif status == "cancelling":
            _enter(remote.body, "cancelled")
        elif status == "in_progress" and self.fail_with:
            remote.body["errors"] = {
                "object": "list",
                "data": [{"code": "invalid_request", "message": self.fail_with, "line": None}],
            }
            _enter(remote.body, "failed")
        elif status == "in_progress":
            self._complete(remote)

    def _complete(self, remote: RemoteBatch) -> None:
        answered, failed = [], []
        for line in remote.lines:
            if line["body"].get("fail"):
                failed.append(_error_line(line))
            else:
                answered.append(_answer_line(line))
        for kind, rows in (("output_file_id", answered), ("error_file_id", failed)):
            if rows:
                file_id = f"file-{secrets.token_hex(12)}"
                self.files[file_id] = b"\n".join(orjson.dumps(r) for r in rows) + b"\n"
                remote.body[kind] = file_id
        remote.body["request_counts"] = {
            "total": len(remote.lines),
            "completed": len(answered),
            "failed": len(failed),
        }
        _enter(remote.body, "completed")


def _batch(batch_id: str, body: dict[str, Any], total: int) -> dict[str, Any]:
    created = int(time.time())
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": body["endpoint"],
        "errors": None,
        "input_file_id": body["input_file_id"],
        "completion_window": body["completion_window"],
        "status": "validating",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": created,
        "in_progress_at": None,
        "expires_at": created + 86400,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": total, "completed": 0, "failed": 0},
        "metadata": body.get("metadata"),
    }


def _enter(body: dict[str, Any], status: str) -> None:
    body["status"] = status
    body[f"{status}_at"] = int(time.time())


def _answer_line(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"batch_req_{secrets.token_hex(12)}",
        "custom_id": line["custom_id"],
        "response": {
            "status_code": 200,
            "request_id": secrets.token_hex(16),
            "body": {
                "id": f"chatcmpl-{secrets.token_hex(8)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": line["body"]["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hello from the batch"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            },
        },
        "error": None,
    }


def _error_line(line: dict[str, Any]) -> dict[str, Any]:
    body = {"error": {"message": "bad line", "type": "invalid_request_error", "code": None}}
    return {
        "id": f"batch_req_{secrets.token_hex(12)}",
        "custom_id": line["custom_id"],
        "response": {"status_code": 400, "request_id": secrets.token_hex(16), "body": body},
        "error": None,
    }


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return web.json_response(body, status=status)
