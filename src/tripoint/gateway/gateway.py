"""The Gateway: built once from Settings by `create_app`; tests build their own."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tripoint.config.defaults import model_dir
from tripoint.config.schema import Settings
from tripoint.errors import ModelNotFoundError
from tripoint.pipeline.attempt import timed_attempt
from tripoint.pipeline.call import (
    ANONYMOUS,
    AnyRequest,
    Call,
    Operation,
    Principal,
    Record,
    operation_of,
)
from tripoint.pipeline.component import Component
from tripoint.pipeline.quota import BackendQuota
from tripoint.pipeline.stage import ChunkStream, Next, Stage, compose
from tripoint.providers.base import Lifecycle, Provider, Readiness
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.target import Target
from tripoint.providers.tokens import TokenCounter
from tripoint.routing.fleet import Fleet
from tripoint.routing.router import RoutePolicy, Router
from tripoint.telemetry.observer import Telemetry

if TYPE_CHECKING:  # only configured gateways load the SQL store and identity
    from tripoint.auth.identity import Identity
    from tripoint.ledger.writer import CallLedger

# The pipeline of DESIGN.md, outermost first. Each slot is empty until its issue fills it;
# an empty slot adds no layer (and no cost) to the call.
PIPELINE = (
    "record",  # usage, cost, audit, metrics: sees every outcome
    "authenticate",
    "authorize",
    "classify",
    "govern",
    "limits",
    "guardrails",
    "capture",  # opted-in teams' texts, as the upstream sees them (after input redaction)
    "cache",  # innermost: a hit still passed every control, and costs no tokens
)


@dataclass(frozen=True, slots=True)
class Route:
    model: str
    targets: tuple[Target, ...]
    operations: frozenset[str]


class Gateway:
    def __init__(
        self,
        settings: Settings,
        stages: Mapping[str, Stage] | None = None,
        components: Sequence[Component] = (),
        *,
        quota: BackendQuota | None = None,
        identity: Identity | None = None,
        telemetry: Telemetry | None = None,
        counter: TokenCounter | None = None,
    ) -> None:
        unknown = set(stages or {}) - set(PIPELINE)
        if unknown:
            raise ValueError(f"unknown pipeline slots: {sorted(unknown)}")
        self.settings = settings
        self.providers: dict[str, Provider] = {
            name: build_provider(
                name, backend, model_dir=model_dir(settings.server), counter=counter
            )
            for name, backend in settings.backends.items()
        }
        self.routes = _routes(settings)
        self.fleet = Fleet(
            breakers={name: b.breaker for name, b in settings.backends.items()},
            admissions={n: b.admission for n, b in settings.backends.items() if b.admission},
        )
        filled = stages or {}
        self.telemetry = telemetry
        attempt = telemetry.attempt if telemetry is not None else timed_attempt
        router = Router(
            self.providers,
            self.fleet,
            policies=_policies(settings),
            budget=settings.routing.retry_budget,
            quota=quota,
            attempt=attempt,
        )
        self._pipeline: Next = compose(
            [filled[name] for name in PIPELINE if name in filled], router
        )
        self.components = tuple(components)
        self.identity = identity  # None: an open gateway (no `auth` section)
        self.ledger: CallLedger | None = None  # None: no `storage`, no ledger
        self.started = False

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The caller behind these headers; anonymous (may use everything) when auth is off."""
        if self.identity is None:
            return ANONYMOUS
        return await self.identity.authenticator.authenticate(headers)

    async def start(self) -> None:
        """Components first (in order: later ones may use earlier ones), then providers."""
        for component in self.components:
            await component.start()
        await asyncio.gather(
            *(p.start() for p in self.providers.values() if isinstance(p, Lifecycle))
        )
        self.started = True

    async def close(self) -> None:
        self.started = False
        await asyncio.gather(
            *(p.close() for p in self.providers.values() if isinstance(p, Lifecycle))
        )
        for component in reversed(self.components):
            await component.close()

    def call(
        self,
        request: AnyRequest,
        *,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        principal: Principal = ANONYMOUS,
        started: float | None = None,
    ) -> Call:
        """A new call for `request`; unknown models and unsupported operations are 404/400."""
        operation = operation_of(request)
        route = self.routes.get(request.model)
        if route is None or operation.value not in route.operations:
            raise ModelNotFoundError(
                f"The model {request.model!r} does not exist or you do not have access to it.",
                param="model",
            )
        record = Record(
            request_id=request_id or new_request_id(),
            model=request.model,
            operation=operation,
            principal=principal,
            started=started if started is not None else time.perf_counter(),
        )
        return Call(
            request=request,
            model=request.model,
            targets=route.targets,
            record=record,
            headers=headers or {},
            principal=principal,
        )

    def reject(
        self,
        operation: Operation,
        error: BaseException,
        *,
        request_id: str | None,
        model: str | None,
        started: float,
        headers: Mapping[str, str],
    ) -> None:
        """Record a request refused before its call existed (bad body, unknown model)."""
        if self.telemetry is not None:
            self.telemetry.reject(
                operation,
                error,
                request_id=request_id or new_request_id(),
                model=model,
                started=started,
                headers=headers,
            )

    def run(self, call: Call) -> ChunkStream:
        return self._pipeline(call)

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    async def readiness(self) -> dict[str, bool]:
        checks = {"config": True, "started": self.started}
        for component in self.components:
            checks[component.name] = await component.ready()
        for name, provider in self.providers.items():
            if isinstance(provider, Readiness):  # e.g. local models still loading
                checks[f"backend:{name}"] = await provider.ready()
        return checks


def _policies(settings: Settings) -> dict[str, RoutePolicy]:
    return {
        model: RoutePolicy(
            strategy=route.strategy,
            retry=route.retry,
            weights={f"{t.backend}/{t.model}": t.weight for t in route.targets},
        )
        for model, route in settings.models.items()
    }


def new_request_id() -> str:
    return secrets.token_hex(12)


def routes_of(settings: Settings) -> dict[str, tuple[Target, ...]]:
    """Each public model's targets (what a governance reroute switches to)."""
    return {model: route.targets for model, route in _routes(settings).items()}


def _routes(settings: Settings) -> dict[str, Route]:
    return {
        model: Route(
            model=model,
            targets=tuple(
                Target(facts_of(t.backend, settings.backends[t.backend]), t.model)
                for t in route.targets
            ),
            operations=frozenset(route.operations),
        )
        for model, route in settings.models.items()
    }
