"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: it can serve)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tripoint.api.guard import public
from tripoint.gateway import Gateway


@public
async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@public
async def readyz(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    checks = await gateway.readiness()
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": checks,
        "targets": gateway.fleet.snapshot(),  # breakers, in-flight, health: detail, not a gate
    }
    return Response(
        orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json"
    )
