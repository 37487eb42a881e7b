"""`create_app(settings)`: the ASGI application, owning one Gateway for its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route

from tripoint.api import batches, errors, files, health, inference, models, predict
from tripoint.api.metrics import metrics_routes
from tripoint.api.request_id import RequestIdMiddleware
from tripoint.api.shedding import LoopLagMonitor, SheddingMiddleware
from tripoint.config.schema import Settings
from tripoint.errors import TripointError
from tripoint.gateway import Gateway
from tripoint.gateway.assembly import assemble


def create_app(settings: Settings, gateway: Gateway | None = None) -> Starlette:
    gateway = gateway or assemble(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.close()

    routes: list[BaseRoute] = [
        Route("/v1/chat/completions", inference.chat_completions, methods=["POST"]),
        Route("/v1/completions", inference.completions, methods=["POST"]),
        Route("/v1/embeddings", inference.embeddings, methods=["POST"]),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", models.retrieve_model, methods=["GET"]),
        Route("/v1/files", files.upload, methods=["POST"]),
        Route("/v1/files", files.list_files, methods=["GET"]),
        Route("/v1/files/{file_id}", files.retrieve, methods=["GET"]),
        Route("/v1/files/{file_id}", files.delete, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", files.content, methods=["GET"]),
        Route("/v1/batches", batches.create, methods=["POST"]),
        Route("/v1/batches", batches.list_batches, methods=["GET"]),
        Route("/v1/batches/{batch_id}", batches.retrieve, methods=["GET"]),
        Route("/v1/batches/{batch_id}/cancel", batches.cancel, methods=["POST"]),
        # Open Inference Protocol v2 (predictive models); the greedy {model:path} comes last
        Route("/v2/models/{model:path}/versions/{version}/infer", predict.infer, methods=["POST"]),
        Route("/v2/models/{model:path}/infer", predict.infer, methods=["POST"]),
        Route("/v2/models/{model:path}/ready", predict.ready, methods=["GET"]),
        Route("/v2/models/{model:path}", predict.metadata, methods=["GET"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        *metrics_routes(gateway),
    ]
    middleware = [Middleware(RequestIdMiddleware)]
    shedding = settings.routing.shedding
    if shedding.max_in_flight is not None or shedding.max_loop_lag is not None:
        monitor = LoopLagMonitor()
        gateway.components += (monitor,)
        middleware.append(Middleware(SheddingMiddleware, policy=shedding, monitor=monitor))
    if gateway.identity is not None:  # the admin API exists only where callers are known
        from tripoint.api.admin.app import admin_app  # noqa: PLC0415 -- FastAPI only with auth

        routes.append(Mount("/admin", app=admin_app(gateway, gateway.identity)))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            TripointError: errors.on_tripoint_error,
            HTTPException: errors.on_http_exception,
            Exception: errors.on_unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app
