"""Telemetry as one gateway component: metrics, access log, traces and the record sinks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence

from opentelemetry.sdk.trace.export import SpanExporter

from tripoint.config.schema import TelemetrySettings
from tripoint.errors import TripointError
from tripoint.pipeline.attempt import AttemptWrapper, timed_attempt
from tripoint.pipeline.call import Operation, Record
from tripoint.pipeline.sink import RecordSink
from tripoint.pipeline.stage import Stage
from tripoint.telemetry.access_log import AccessLog
from tripoint.telemetry.metrics import Metrics
from tripoint.telemetry.recent import RecentRecords
from tripoint.telemetry.recorder import RecordStage
from tripoint.telemetry.scrape import Scrape, ScrapeListener
from tripoint.telemetry.tracing import Tracing

UNPARSED_MODEL = ""  # a request rejected before its model could be read


class Telemetry:
    """Owns the sinks every finished Record goes to, and the record stage that feeds them.

    Later controls add their own sinks (the usage ledger, the audit trail) through `sinks`;
    they set Record fields (cost, limited, verdicts, decisions, cache_hit) and never call
    metrics directly. Stateful components report through `metrics.set_breaker_state` and
    `metrics.set_queue_depth`.
    """

    name = "telemetry"

    def __init__(
        self,
        settings: TelemetrySettings,
        models: Iterable[str],
        sinks: Sequence[RecordSink] = (),
        *,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        self.settings = settings
        self.recent = RecentRecords(settings.recent_records)
        self.metrics = Metrics(models) if settings.metrics.enabled else None
        traced = settings.tracing.enabled or settings.tracing.otlp_endpoint is not None
        self.tracing = Tracing(settings.tracing, span_exporter) if traced or span_exporter else None
        chosen: list[RecordSink] = [self.recent, *sinks]
        if self.metrics is not None:
            chosen.append(self.metrics)
        if settings.access_log:
            chosen.append(AccessLog())
        self.sinks = tuple(chosen)
        self.stage = RecordStage(self.sinks, self.tracing)
        self.attempt: AttemptWrapper = self.tracing.attempt if self.tracing else timed_attempt
        token = settings.metrics.token
        self.scrape = Scrape(self.metrics, token) if self.metrics is not None else None
        self.listener = (
            ScrapeListener(self.scrape, settings.metrics, reuse_port=self.metrics.multiprocess)
            if self.scrape is not None
            and self.metrics is not None
            and settings.metrics.port is not None
            else None
        )

    def wrap(self, stages: Mapping[str, Stage]) -> dict[str, Stage]:
        """Each stage in its own span (the record stage is the call's span itself)."""
        if self.tracing is None or not self.settings.tracing.stage_spans:
            return dict(stages)
        return {
            slot: stage if slot == "record" else self.tracing.stage(slot, stage)
            for slot, stage in stages.items()
        }

    def reject(
        self,
        operation: Operation,
        error: BaseException,
        *,
        request_id: str,
        model: str | None,
        started: float,
        headers: Mapping[str, str],
    ) -> None:
        """Record a call refused before its pipeline ran (unparsable body, unknown model)."""
        record = Record(
            request_id=request_id,
            model=model or UNPARSED_MODEL,
            operation=operation,
            started=started,
        )
        if isinstance(error, TripointError):
            record.status, record.error_type = error.status, error.type
        else:
            record.status, record.error_type = 500, "server_error"
        record.finished_at = time.perf_counter()
        if self.tracing is not None:
            self.tracing.rejected(record, headers)
        self.stage.finish(record)

    # Component -----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.listener is not None:
            await self.listener.start()

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
        if self.tracing is not None:  # flushing may wait on the collector: not on the loop
            await asyncio.to_thread(self.tracing.close)
        if self.metrics is not None:
            self.metrics.close()

    async def ready(self) -> bool:
        return True
