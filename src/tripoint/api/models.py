"""`GET /v1/models`: the models the caller may use."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tripoint.api.guard import requires
from tripoint.auth.roles import Role, usable
from tripoint.errors import ModelNotFoundError
from tripoint.gateway import Gateway
from tripoint.pipeline.call import Principal
from tripoint.schema.json import JSONObject

_CREATED = 1_700_000_000  # a fixed timestamp: routes have no creation date


def _model_json(name: str) -> JSONObject:
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": "tripoint"}


@requires(Role.VIEWER)
async def list_models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    principal: Principal = request.state.principal
    data = [_model_json(name) for name in sorted(gateway.routes) if usable(principal, name)]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")


@requires(Role.VIEWER)
async def retrieve_model(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    principal: Principal = request.state.principal
    name = request.path_params["model"]
    if name not in gateway.routes or not usable(principal, name):
        raise ModelNotFoundError(f"The model {name!r} does not exist", param="model")
    return Response(orjson.dumps(_model_json(name)), media_type="application/json")
