"""Build the gateway from settings: the one place that decides which components and stages
exist. Each control (identity, limits, guardrails, governance, telemetry) adds its part here.
"""

from __future__ import annotations

import logging

from tripoint.auth.identity import Identity
from tripoint.auth.stages import Authenticate, Authorize
from tripoint.config.schema import Settings
from tripoint.gateway.gateway import Component, Gateway
from tripoint.pipeline.stage import Stage
from tripoint.storage.database import Database

log = logging.getLogger("tripoint")


def assemble(settings: Settings) -> Gateway:
    components: list[Component] = []
    stages: dict[str, Stage] = {}
    identity = _identity(settings, components, stages)
    return Gateway(settings, stages=stages, components=components, identity=identity)


def _identity(
    settings: Settings, components: list[Component], stages: dict[str, Stage]
) -> Identity | None:
    """The SQL store when anything needs it; auth stages when `auth:` is configured."""
    if settings.auth is None:
        log.warning("no `auth` section: the gateway is OPEN, every caller may use every model")
    if settings.storage is None and settings.auth is None:
        return None
    database = Database.from_settings(settings)
    components.append(database)
    if settings.auth is None:
        return None
    identity = Identity(settings.auth, database, frozenset(settings.models))
    components.append(identity)
    stages["authenticate"] = Authenticate(identity.authenticator)
    stages["authorize"] = Authorize()
    return identity
