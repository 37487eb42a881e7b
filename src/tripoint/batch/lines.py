"""Batch JSONL lines in and out, as OpenAI writes them. Pure: no I/O.

Input: `{"custom_id", "method": "POST", "url", "body"}` per line. Output lines carry the
response (`status_code`, `request_id`, `body`); error lines carry `error` (`code`, `message`)
and, when the request reached the gateway, the error response as well.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from tripoint.schema.json import JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest

Request = ChatRequest | CompletionRequest | EmbeddingRequest
_MODELS: dict[str, type[Request]] = {
    "/v1/chat/completions": ChatRequest,
    "/v1/completions": CompletionRequest,
    "/v1/embeddings": EmbeddingRequest,
}


@dataclass(frozen=True, slots=True)
class Line:
    custom_id: str
    request: Request


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that cannot run; it becomes an error line, never the batch's failure."""

    custom_id: str
    code: str
    message: str


def parse(raw: bytes, number: int, endpoint: str) -> Line | BadLine:
    """One input line; `number` names lines that have no usable custom_id."""
    envelope = _envelope(raw, number, endpoint)
    if isinstance(envelope, BadLine):
        return envelope
    custom_id, body = envelope
    if endpoint != "/v1/embeddings":
        body = {**body, "stream": False}  # a batch line is answered whole
    try:
        return Line(custom_id, _MODELS[endpoint].model_validate(body))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return BadLine(custom_id, "invalid_request", f"body.{where}: {first['msg']}")


def _envelope(raw: bytes, number: int, endpoint: str) -> tuple[str, JSONObject] | BadLine:
    fallback = f"line-{number + 1}"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return BadLine(fallback, "invalid_json", f"line {number + 1} is not valid JSON")
    custom_id = data.get("custom_id") if isinstance(data, dict) else None
    if not isinstance(custom_id, str) or not custom_id:
        return BadLine(fallback, "missing_custom_id", f"line {number + 1} has no custom_id")
    problem = None
    if data.get("method", "POST") != "POST":
        problem = "method must be POST"
    elif data.get("url") != endpoint:
        problem = f"url must be the batch's endpoint {endpoint}"
    elif not isinstance(data.get("body"), dict):
        problem = "body must be a JSON object"
    if problem:
        return BadLine(custom_id, "invalid_request", problem)
    return custom_id, data["body"]


def output_line(custom_id: str, request_id: str, body: JSONObject) -> bytes:
    return orjson.dumps(
        {
            "id": _line_id(),
            "custom_id": custom_id,
            "response": {"status_code": 200, "request_id": request_id, "body": body},
            "error": None,
        }
    )


def error_line(
    custom_id: str,
    code: str,
    message: str,
    *,
    status: int | None = None,
    body: JSONObject | None = None,
) -> bytes:
    response = None if status is None else {"status_code": status, "request_id": None, "body": body}
    return orjson.dumps(
        {
            "id": _line_id(),
            "custom_id": custom_id,
            "response": response,
            "error": {"code": code, "message": message},
        }
    )


def _line_id() -> str:
    return f"batch_req_{secrets.token_hex(12)}"
