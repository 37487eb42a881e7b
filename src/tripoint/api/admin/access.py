"""Admin access: authenticate every request before its body is read; each route names a role."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tripoint.api.errors import error_response
from tripoint.auth.grants import Actor
from tripoint.auth.roles import Role
from tripoint.errors import PermissionDeniedError, RequestTooLargeError, TripointError
from tripoint.gateway import Gateway
from tripoint.pipeline.call import Principal

MAX_ADMIN_BODY = 64 * 1024


class Authenticated:
    """Pure ASGI: a request without valid credentials never reaches FastAPI's body parsing."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self._gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            principal = await self._gateway.authenticate(headers)
            declared = headers.get("content-length", "0")
            if not declared.isdigit() or int(declared) > MAX_ADMIN_BODY:
                raise RequestTooLargeError(f"Admin bodies are limited to {MAX_ADMIN_BODY} bytes.")
            receive = await _read_capped(receive)
        except TripointError as exc:
            await error_response(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class RoleRequirement:
    """A route's explicit role requirement (a FastAPI dependency the route inventory finds)."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Actor:
        principal: Principal = request.state.principal
        if not Role(principal.role).covers(self.role):
            raise PermissionDeniedError(f"This needs the {self.role.value} role.")
        source = request.client.host if request.client else None
        request_id = getattr(request.state, "request_id", None)
        return Actor(principal, source=source, request_id=request_id)


async def _read_capped(receive: Receive) -> Receive:
    """Read the whole (small) body first, counting, since a chunked one declares no length;
    then replay it to FastAPI."""
    body, more = bytearray(), True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return receive  # a disconnect: let the app see it
        body += message.get("body", b"")
        more = bool(message.get("more_body", False))
        if len(body) > MAX_ADMIN_BODY:
            raise RequestTooLargeError(f"Admin bodies are limited to {MAX_ADMIN_BODY} bytes.")
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return replay
