"""Run the gateway under uvicorn (uvloop + httptools) until SIGINT/SIGTERM."""

from __future__ import annotations

import gc
import logging

import uvicorn

from tripoint.api.app import create_app
from tripoint.config.schema import Settings
from tripoint.gateway import Gateway
from tripoint.write_gathering import GatheringHttpToolsProtocol

log = logging.getLogger("tripoint")


def uvicorn_config(
    settings: Settings, log_level: str = "info", gateway: Gateway | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, gateway),
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop",
        # uvicorn's httptools protocol, its writes gathered per loop turn (one system call
        # per plain answer, and per upstream read's worth of stream events)
        http=GatheringHttpToolsProtocol,
        lifespan="on",
        access_log=False,  # the gateway writes its own access records
        log_config=None,  # keep the JSON logging configured by the CLI
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=int(settings.server.shutdown_grace),
        backlog=4096,
    )


def run(settings: Settings, log_level: str = "info") -> None:
    server = uvicorn.Server(uvicorn_config(settings, log_level))
    log.info(
        "starting",
        extra={
            "host": settings.server.host,
            "port": settings.server.port,
            "models": sorted(settings.models),
        },
    )
    # everything imported and built so far lives as long as the process: keep it out of the
    # collector's way, so full collections during serving stay short
    gc.collect()
    gc.freeze()
    server.run()  # sets up uvloop itself
