"""Every route states who may call it: `@requires(role)` authenticates first, `@public` says none.

The marks are data on the endpoint, so a test can walk the app's routes at run time and fail
on any route that states nothing. Authentication happens before the body is read: a stranger
gets 401 and learns nothing else, not even which models exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import Response

from tripoint.auth.roles import Role
from tripoint.errors import PermissionDeniedError
from tripoint.gateway import Gateway

Endpoint = Callable[[Request], Awaitable[Response]]
PUBLIC = "public"
REQUIREMENT = "__tripoint_requires__"


def requires(role: Role) -> Callable[[Endpoint], Endpoint]:
    def decorate(endpoint: Endpoint) -> Endpoint:
        @wraps(endpoint)
        async def guarded(request: Request) -> Response:
            gateway: Gateway = request.app.state.gateway
            principal = await gateway.authenticate(request.headers)
            if not Role(principal.role).covers(role):
                raise PermissionDeniedError(f"This needs the {role.value} role.")
            request.state.principal = principal
            return await endpoint(request)

        setattr(guarded, REQUIREMENT, role)
        return guarded

    return decorate


def public(endpoint: Endpoint) -> Endpoint:
    setattr(endpoint, REQUIREMENT, PUBLIC)
    return endpoint
