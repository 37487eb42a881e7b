"""Build a runtime provider from a backend's config: the one place that knows every `type`."""

from __future__ import annotations

from pathlib import Path

from tripoint.config.schema import Backend, LocalBackend, OpenAIBackend
from tripoint.providers.auth import bearer
from tripoint.providers.base import Provider
from tripoint.providers.local.provider import LocalProvider, engine_for
from tripoint.providers.openai.provider import OpenAIProvider
from tripoint.providers.target import BackendFacts
from tripoint.providers.upstream import Upstream


def build_provider(name: str, backend: Backend, *, model_dir: Path) -> Provider:
    """`model_dir`: where local models' relative paths point (server.data_dir/models)."""
    match backend:
        case LocalBackend():
            return LocalProvider(name, engine_for(backend, model_dir))
        case OpenAIBackend():
            headers = dict(backend.headers)
            if backend.organization:
                headers["OpenAI-Organization"] = backend.organization
            upstream = Upstream(
                name,
                str(backend.base_url),
                bearer(backend.api_key),
                backend.timeouts,
                max_connections=backend.max_connections,
                headers=headers,
            )
            return OpenAIProvider(upstream)


def facts_of(name: str, backend: Backend) -> BackendFacts:
    return BackendFacts(
        name=name,
        type=backend.type,
        pattern=backend.pattern,
        region=backend.region,
        retains_data=backend.retains_data,
        trains_on_data=backend.trains_on_data,
        tags=backend.tags,
    )
