"""The Open Inference Protocol v2 routes for predictive models (KServe, Triton, MLflow, ...).

`POST /v2/models/{model}/infer` is parsed and checked once, becomes a Call and runs through
the same pipeline as LLM calls (authentication, limits, governance, records). Metadata and
readiness (`GET /v2/models/{model}[/ready]`) are answered from the route's backends. Errors
use the gateway's one envelope, `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tripoint.api.body import parse_request
from tripoint.api.disconnect import unless_disconnected
from tripoint.api.guard import requires
from tripoint.auth.roles import Role, usable
from tripoint.errors import ModelNotFoundError, UpstreamError
from tripoint.gateway import Gateway
from tripoint.gateway.gateway import Route
from tripoint.pipeline.call import Operation
from tripoint.pipeline.stage import ChunkStream
from tripoint.routing import describe
from tripoint.schema import oip
from tripoint.schema.chunks import Chunk, InferResult
from tripoint.schema.json import JSONObject


@requires(Role.MEMBER)
async def infer(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    model = request.path_params["model"]
    body = await parse_request(request, oip.InferRequest, gateway.settings.server.max_body_bytes)
    body = body.model_copy(update={"model": model, "version": request.path_params.get("version")})
    call = gateway.call(
        body,
        request_id=_request_id(request),
        headers=request.headers,
        principal=request.state.principal,
    )
    chunks = gateway.run(call)
    try:
        results = await unless_disconnected(request.receive, _gather(chunks))
    finally:
        await chunks.aclose()
    result = next((c for c in results if isinstance(c, InferResult)), None)
    if result is None:
        raise UpstreamError(f"model {model!r} answered without outputs")
    headers = {}
    if call.record.target is not None:
        headers["x-tripoint-backend"] = call.record.target.backend.name
    return _json(oip.response_json(result, model), headers)


@requires(Role.VIEWER)
async def metadata(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    route = _predictive_route(request, gateway)
    described = await describe.describe(gateway.providers, route.targets)
    return _json(oip.metadata_json(described, route.model))


@requires(Role.VIEWER)
async def ready(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    route = _predictive_route(request, gateway)
    is_ready = await describe.ready(gateway.providers, route.targets)
    return _json({"name": route.model, "ready": is_ready}, status=200 if is_ready else 503)


def _predictive_route(request: Request, gateway: Gateway) -> Route:
    """The model's route when it predicts and the caller may use it; else 404, as OpenAI."""
    model = request.path_params["model"]
    route = gateway.routes.get(model)
    usable_here = route is not None and usable(request.state.principal, model)
    if route is None or not usable_here or Operation.PREDICT.value not in route.operations:
        raise ModelNotFoundError(f"The model {model!r} does not exist", param="model")
    return route


async def _gather(chunks: ChunkStream) -> list[Chunk]:
    return [chunk async for chunk in chunks]


def _json(body: JSONObject, headers: dict[str, str] | None = None, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None
