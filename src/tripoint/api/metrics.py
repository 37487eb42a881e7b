"""`GET /metrics` on the main port (unless telemetry serves it on its own port)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tripoint.api.guard import requires
from tripoint.auth.roles import Role
from tripoint.gateway import Gateway


def metrics_routes(gateway: Gateway) -> list[Route]:
    telemetry = gateway.telemetry
    if telemetry is None or telemetry.scrape is None or telemetry.listener is not None:
        return []
    scrape = telemetry.scrape
    keyed = gateway.identity is not None

    @requires(Role.VIEWER)  # with auth on, scrape with a viewer key; else the scrape token
    async def metrics(request: Request) -> Response:
        credential = None if keyed else request.headers.get("authorization")
        status, body, content_type = scrape.answer(credential, checked=keyed)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return Response(body, status_code=status, media_type=content_type, headers=headers)

    return [Route(telemetry.settings.metrics.path, metrics, methods=["GET"])]
