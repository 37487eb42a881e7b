"""Describe a predictive model (OIP v2 metadata and readiness) from its route's targets.

Metadata is read from the first target whose backend can describe it, in route order, so a
model answers `GET /v2/models/{model}` while any of its backends does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tripoint.errors import ServiceUnavailableError, UpstreamError
from tripoint.providers.base import ModelMetadataProvider, Provider
from tripoint.providers.target import Target
from tripoint.schema.oip import ModelMetadata


async def describe(providers: Mapping[str, Provider], targets: Sequence[Target]) -> ModelMetadata:
    failure: UpstreamError | None = None
    for target in targets:
        provider = providers[target.backend.name]
        if not isinstance(provider, ModelMetadataProvider):
            continue
        try:
            return await provider.metadata(target)
        except UpstreamError as exc:
            failure = exc
    if failure is not None:
        raise failure
    raise ServiceUnavailableError("no backend of this model can describe it")


async def ready(providers: Mapping[str, Provider], targets: Sequence[Target]) -> bool:
    """Ready when any target is: the router would fall back to it."""
    for target in targets:
        provider = providers[target.backend.name]
        if isinstance(provider, ModelMetadataProvider) and await provider.ready(target):
            return True
    return False
