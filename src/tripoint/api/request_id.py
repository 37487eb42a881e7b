"""Give every exchange an `x-request-id`: the client's when it is sane, else a new one."""

from __future__ import annotations

import random
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SANE = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_HEADER = b"x-request-id"


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): one dict lookup and one header per response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # ids name requests, they guard nothing: a seeded PRNG is enough and far cheaper
        # than reading the OS's entropy for every request
        self._random = random.Random(secrets.randbits(64))  # noqa: S311

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        for name, value in scope["headers"]:
            if name == _HEADER:
                request_id = value if _SANE.fullmatch(value) else b""
                break
        if not request_id:
            request_id = b"%024x" % self._random.getrandbits(96)
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (_HEADER, request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)
