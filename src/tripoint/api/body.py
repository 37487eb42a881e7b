"""Read a request body within the size cap and parse it once into its typed request."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import ClientDisconnect, Request

from tripoint.errors import InvalidRequestError, RequestTooLargeError

T = TypeVar("T", bound=BaseModel)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequestError("Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidRequestError("the client disconnected while sending the body") from None
    return b"".join(chunks)


async def parse_request(request: Request, model: type[T], limit: int) -> T:
    body = await read_body(request, limit)
    if not body.strip():
        raise InvalidRequestError("The request body is empty; expected a JSON object.")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid(exc.errors(include_url=False, include_input=False)) from None


def _too_large(limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(f"The request body exceeds the limit of {limit} bytes.")


def _invalid(errors: list[ErrorDetails]) -> InvalidRequestError:
    first = errors[0]
    if first["type"] == "json_invalid":
        return InvalidRequestError(
            "We could not parse the JSON body of your request. "
            "(HINT: This likely means you aren't using your HTTP library correctly.)"
        )
    if first["type"] == "model_type" and not first["loc"]:
        return InvalidRequestError("The request body must be a JSON object.")
    param = ".".join(str(part) for part in first["loc"]) or None
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return InvalidRequestError(f"{param}: {first['msg']}{more}", param=param)
