"""Build the gateway from settings: the one place that decides which components and stages
exist. Each control (identity, limits, guardrails, governance, telemetry) adds its part here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter

from tripoint.config.defaults import default_data_dir
from tripoint.config.schema import OpenAIBackend, Settings
from tripoint.errors import ConfigError
from tripoint.gateway.gateway import Gateway, routes_of
from tripoint.governance.stages import Classify, Govern
from tripoint.limits.assembly import build_limits
from tripoint.pipeline.component import Component
from tripoint.pipeline.sink import RecordSink
from tripoint.pipeline.stage import Stage
from tripoint.providers.tokens import TokenCounter
from tripoint.routing.cache import MemoryCacheStore, ResponseCache
from tripoint.routing.health import HealthChecker
from tripoint.telemetry.observer import Telemetry

if TYPE_CHECKING:  # imported where used: an open gateway without storage never loads them
    from tripoint.auth.identity import Identity
    from tripoint.batch.delegation import Delegate
    from tripoint.batch.runner import BatchRunner
    from tripoint.guardrails.engine import GuardrailEngine
    from tripoint.guardrails.scanner import GuardrailFindings
    from tripoint.ledger.writer import CallLedger
    from tripoint.storage.database import Database

log = logging.getLogger("tripoint")


def assemble(settings: Settings, *, span_exporter: SpanExporter | None = None) -> Gateway:
    """`span_exporter` receives finished spans (tests, embedders); else OTLP when configured."""
    components: list[Component] = []
    stages: dict[str, Stage] = {}
    counter = TokenCounter()  # shared by limits and by providers estimating unreported usage
    stages["limits"], quota, limit_components = build_limits(
        settings.limits,
        counter,
        stored=settings.auth is not None,  # the admin API sets limits too
    )
    components += limit_components
    cached = {model: route.cache for model, route in settings.models.items() if route.cache.enabled}
    if cached:
        stages["cache"] = ResponseCache(
            cached, MemoryCacheStore(settings.routing.cache_max_entries)
        )
    guardrails: GuardrailEngine | None = None
    scanner: GuardrailFindings | None = None
    if settings.guardrails.checks:
        # the guardrails extra (Presidio, ONNX Runtime) is imported only when configured
        from tripoint.guardrails.engine import GuardrailEngine  # noqa: PLC0415
        from tripoint.guardrails.scanner import GuardrailFindings  # noqa: PLC0415
        from tripoint.guardrails.stage import GuardrailStage  # noqa: PLC0415

        guardrails = GuardrailEngine(settings.guardrails)
        components.append(guardrails)
        stages["guardrails"] = GuardrailStage(guardrails, settings.guardrails)
        scanner = GuardrailFindings(guardrails, list(settings.guardrails.checks))
    governance = settings.governance
    capture = governance.capture.teams
    if governance.policies or governance.team_classes or governance.findings or capture:
        stages["classify"] = Classify(governance, scanner=scanner if governance.findings else None)
        stages["govern"] = Govern(governance, routes_of(settings))
    identity, ledger = _identity(settings, components, stages)
    if capture and ledger is not None and guardrails is not None:  # the config checks both
        stages["capture"], writer = _capture(settings, guardrails, ledger.database)
        components.append(writer)  # after the database: flushed before it closes
    batches = _batch_runner(settings, components)
    if batches is not None:
        components.append(batches)
    sinks: list[RecordSink] = [ledger] if ledger is not None else []
    telemetry = Telemetry(settings.telemetry, settings.models, sinks, span_exporter=span_exporter)
    components.insert(0, telemetry)  # first up, last down: it records the others' calls
    stages["record"] = telemetry.stage
    # Every stage is added above this line: wrapping gives each its own span when traced.
    gateway = Gateway(
        settings,
        stages=telemetry.wrap(stages),
        components=components,
        quota=quota,
        identity=identity,
        telemetry=telemetry,
        counter=counter,
    )
    gateway.ledger = ledger
    if batches is not None:
        batches.bind(gateway)  # batch lines run through this gateway's pipeline
    checks = {  # self-hosted servers have a base URL whose origin serves /health, /metrics
        name: (str(getattr(backend, "base_url", "")), backend.health)
        for name, backend in settings.backends.items()
        if backend.health is not None and getattr(backend, "base_url", None)
    }
    gateway.components += (HealthChecker(gateway.fleet, checks),)
    return gateway


def _identity(
    settings: Settings, components: list[Component], stages: dict[str, Stage]
) -> tuple[Identity | None, CallLedger | None]:
    """The SQL store when anything needs it, with the call ledger on it; auth stages when
    `auth:` is configured."""
    if settings.auth is None:
        log.warning("no `auth` section: the gateway is OPEN, every caller may use every model")
    if settings.storage is None and settings.auth is None:
        log.warning("no `storage` section: the call ledger (usage, audit) is not kept")
        return None, None
    from tripoint.auth.identity import Identity  # noqa: PLC0415
    from tripoint.auth.stages import Authenticate, Authorize  # noqa: PLC0415
    from tripoint.ledger.writer import CallLedger  # noqa: PLC0415
    from tripoint.storage.database import Database  # noqa: PLC0415

    database = Database.from_settings(settings)
    components.append(database)
    ledger = CallLedger(database)
    components.append(ledger)  # after the database: closed (and flushed) before it
    if settings.auth is None:
        return None, ledger
    identity = Identity(settings.auth, database, frozenset(settings.models))
    components.append(identity)
    stages["authenticate"] = Authenticate(identity.authenticator)
    stages["authorize"] = Authorize()
    return identity, ledger


def _capture(
    settings: Settings, guardrails: GuardrailEngine, database: Database
) -> tuple[Stage, Component]:
    """Opted-in teams' prompts and answers, redacted by every PII and secrets check."""
    from tripoint.capture.stage import CaptureStage  # noqa: PLC0415
    from tripoint.capture.writer import ContentWriter  # noqa: PLC0415
    from tripoint.guardrails.scrubber import Scrubber  # noqa: PLC0415

    checks = settings.guardrails.checks
    redacting = [name for name, check in checks.items() if check.type in ("pii", "secrets")]
    capture = settings.governance.capture
    writer = ContentWriter(
        database,
        Scrubber(guardrails, redacting),
        {team: rule.retention_days for team, rule in capture.teams.items()},
        max_pending=capture.max_pending,
    )
    return CaptureStage(settings.governance, writer), writer


def _batch_runner(settings: Settings, components: list[Component]) -> BatchRunner | None:
    if not settings.batch.enabled:
        return None
    from tripoint.batch.runner import BatchRunner  # noqa: PLC0415
    from tripoint.batch.store import BatchStore, FileStore  # noqa: PLC0415

    files: FileStore
    batches: BatchStore
    if _batches_in_database(settings):
        from tripoint.batch.sql import SqlBatchStore  # noqa: PLC0415
        from tripoint.batch.sqlfiles import SqlFileStore  # noqa: PLC0415
        from tripoint.storage.database import Database  # noqa: PLC0415

        database = next((c for c in components if isinstance(c, Database)), None)
        if database is None:  # `batch.store: database` with no identity or ledger
            database = Database.from_settings(settings)
            components.append(database)
        files, batches = SqlFileStore(database), SqlBatchStore(database)
    else:
        from tripoint.batch.disk import DiskFileStore  # noqa: PLC0415
        from tripoint.batch.sqlite import SqliteBatchStore  # noqa: PLC0415

        data = settings.server.data_dir or default_data_dir()
        files = DiskFileStore(data / "files")
        batches = SqliteBatchStore(data / "batches.sqlite3")
    return BatchRunner(
        files,
        batches,
        concurrency=settings.batch.concurrency,
        claim_ttl=settings.batch.claim_ttl,
        delegates=_delegates(settings),
        delegate_poll=settings.batch.delegate_poll,
    )


def _delegates(settings: Settings) -> dict[str, Delegate]:
    """The native Batch API of each model configured with `batch: delegate`."""
    from tripoint.batch.delegation import Delegate  # noqa: PLC0415
    from tripoint.batch.native import NativeBatches  # noqa: PLC0415

    found, problems = {}, []
    for name, route in settings.models.items():
        if route.batch != "delegate":
            continue
        target = route.targets[0]
        backend = settings.backends[target.backend]
        if not isinstance(backend, OpenAIBackend):
            problems.append(
                f"models.{name}.batch: delegate needs an `openai` backend as the first target"
                f" (it is {backend.type!r})"
            )
            continue
        headers = dict(backend.headers)
        if backend.api_key is not None:
            headers["Authorization"] = f"Bearer {backend.api_key.get_secret_value()}"
        if backend.organization:
            headers["OpenAI-Organization"] = backend.organization
        found[name] = Delegate(NativeBatches(str(backend.base_url), headers), target.model)
    if problems:
        raise ConfigError(problems)
    return found


def _batches_in_database(settings: Settings) -> bool:
    if settings.batch.store != "auto":
        return settings.batch.store == "database"
    url = settings.storage.url if settings.storage is not None else None
    return url is not None and url.get_secret_value().startswith("postgres")
