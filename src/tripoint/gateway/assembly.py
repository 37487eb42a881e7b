"""Build the gateway from settings: the one place that decides which components and stages
exist. Each control (identity, limits, guardrails, governance, telemetry) adds its part here.
"""

from __future__ import annotations

from tripoint.batch.disk import DiskFileStore
from tripoint.batch.runner import BatchRunner
from tripoint.batch.sqlite import SqliteBatchStore
from tripoint.config.defaults import default_data_dir
from tripoint.config.schema import Settings
from tripoint.gateway.gateway import Component, Gateway
from tripoint.pipeline.stage import Stage


def assemble(settings: Settings) -> Gateway:
    components: list[Component] = []
    stages: dict[str, Stage] = {}
    batches = _batch_runner(settings)
    if batches is not None:
        components.append(batches)
    gateway = Gateway(settings, stages=stages, components=components)
    if batches is not None:
        batches.bind(gateway)  # batch lines run through this gateway's pipeline
    return gateway


def _batch_runner(settings: Settings) -> BatchRunner | None:
    if not settings.batch.enabled:
        return None
    data = settings.server.data_dir or default_data_dir()
    # The embedded stores; the SQL store (PostgreSQL for replicas) plugs in at this seam.
    return BatchRunner(
        DiskFileStore(data / "files"),
        SqliteBatchStore(data / "batches.sqlite3"),
        concurrency=settings.batch.concurrency,
        claim_ttl=settings.batch.claim_ttl,
    )
