"""Build the admin sub-application: its routes, its access guard, the OpenAI error envelope."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tripoint import __version__
from tripoint.api import errors
from tripoint.api.admin.access import Authenticated
from tripoint.api.admin.content_routes import router as content_router
from tripoint.api.admin.ledger_routes import router as ledger_router
from tripoint.api.admin.limit_routes import router as limit_router
from tripoint.api.admin.routes import router
from tripoint.auth.identity import Identity
from tripoint.errors import TripointError, UnprocessableError
from tripoint.gateway import Gateway

DESCRIPTION = (
    "Organisations, teams, users, virtual API keys, their limits and budgets, and the admin "
    "audit log. Authenticate with "
    "`Authorization: Bearer <key or JWT>`; every route names the least role it needs. Callers "
    "below `admin` see only their own team; anything else answers 404."
)


def admin_app(gateway: Gateway, identity: Identity) -> FastAPI:
    app = FastAPI(
        title="Tripoint admin API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=None,  # served by a guarded route instead, like every other route
        docs_url=None,
        redoc_url=None,
        servers=[{"url": "/admin"}],
    )
    app.state.administration = identity.administration
    app.state.limit_administration = identity.limits
    app.state.ledger_database = gateway.ledger.database if gateway.ledger else None
    app.include_router(ledger_router)
    app.include_router(content_router)
    app.include_router(router)
    app.include_router(limit_router)
    app.add_middleware(Authenticated, gateway=gateway)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_exception_handler(TripointError, errors.on_tripoint_error)
    app.add_exception_handler(HTTPException, errors.on_http_exception)
    app.add_exception_handler(Exception, errors.on_unexpected_error)
    return app


async def _on_invalid(request: Request, exc: Exception) -> Response:
    """422 in the OpenAI envelope, naming the first problem; the input is never echoed."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 -- registered for this class
    problems = exc.errors()
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return errors.error_response(
        UnprocessableError(f"{param}: {message}{more}" if param else message, param=param)
    )
