"""`create_app(settings)`: the ASGI application, owning one Gateway for its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from tripoint.api import errors, health, inference, models
from tripoint.api.metrics import metrics_routes
from tripoint.api.request_id import RequestIdMiddleware
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

    routes = [
        Route("/v1/chat/completions", inference.chat_completions, methods=["POST"]),
        Route("/v1/completions", inference.completions, methods=["POST"]),
        Route("/v1/embeddings", inference.embeddings, methods=["POST"]),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", models.retrieve_model, methods=["GET"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        *metrics_routes(gateway),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            TripointError: errors.on_tripoint_error,
            HTTPException: errors.on_http_exception,
            Exception: errors.on_unexpected_error,
        },
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app
