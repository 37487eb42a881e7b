"""Build a runtime provider from a backend's config: the one place that knows every `type`."""

from __future__ import annotations

from tripoint.config.schema import (
    Backend,
    KServeBackend,
    MLflowBackend,
    OllamaBackend,
    OpenAIBackend,
    TGIBackend,
)
from tripoint.providers.auth import bearer
from tripoint.providers.base import Provider
from tripoint.providers.kserve.provider import KServeProvider
from tripoint.providers.mlflow.provider import MLflowProvider
from tripoint.providers.ollama.provider import OllamaProvider
from tripoint.providers.openai.provider import OpenAIProvider
from tripoint.providers.target import BackendFacts
from tripoint.providers.tgi import template
from tripoint.providers.tgi.provider import TGIProvider
from tripoint.providers.upstream import Upstream


def build_provider(name: str, backend: Backend) -> Provider:
    match backend:
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
        case TGIBackend():
            return TGIProvider(_self_hosted(name, backend), template.resolve(backend.chat_template))
        case OllamaBackend():
            return OllamaProvider(_self_hosted(name, backend), backend.options, backend.keep_alive)
        case KServeBackend():
            return KServeProvider(_self_hosted(name, backend))
        case MLflowBackend():
            return MLflowProvider(
                _self_hosted(name, backend),
                input_format=backend.input_format,
                columns=backend.columns,
                output_name=backend.output_name,
            )


def _self_hosted(
    name: str, backend: TGIBackend | OllamaBackend | KServeBackend | MLflowBackend
) -> Upstream:
    return Upstream(
        name,
        str(backend.base_url),
        bearer(backend.api_key),
        backend.timeouts,
        max_connections=backend.max_connections,
        headers=dict(backend.headers),
    )


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
