"""Render every failure as the OpenAI error envelope; the only place errors meet HTTP."""

from __future__ import annotations

import logging
import math

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tripoint.errors import InvalidRequestError, NotFoundError, TripointError

log = logging.getLogger("tripoint.api")


def error_json(exc: TripointError) -> dict[str, object]:
    return {
        "error": {
            "message": exc.message,
            "type": exc.type,
            "param": exc.param,
            "code": exc.code,
        }
    }


def error_response(exc: TripointError) -> Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return Response(
        orjson.dumps(error_json(exc)),
        status_code=exc.status,
        media_type="application/json",
        headers=headers,
    )


async def on_tripoint_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TripointError)  # noqa: S101 -- registered for this class only
    return error_response(exc)


class _MethodNotAllowedError(InvalidRequestError):
    status = 405


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 -- registered for this class only
    if exc.status_code == 404:
        return error_response(NotFoundError(f"Unknown path: {request.url.path}"))
    if exc.status_code == 405:
        return error_response(
            _MethodNotAllowedError(f"Method {request.method} not allowed on {request.url.path}")
        )
    return error_response(InvalidRequestError(str(exc.detail)))


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    """The last resort: log the traceback for operators, show the client no detail."""
    request_id = request.scope.get("state", {}).get("request_id")
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    response = error_response(TripointError("The server had an error processing your request."))
    if request_id:  # this handler runs outside the request-id middleware
        response.headers["x-request-id"] = request_id
    return response
