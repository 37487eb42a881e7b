"""Build a runtime provider from a backend's config: the one place that knows every `type`."""

from __future__ import annotations

from pydantic import SecretStr

from tripoint.config.schema import (
    AnthropicBackend,
    AzureOpenAIBackend,
    Backend,
    CohereBackend,
    KServeBackend,
    MLflowBackend,
    OllamaBackend,
    OpenAIBackend,
    TGIBackend,
)
from tripoint.providers.anthropic.provider import AnthropicProvider
from tripoint.providers.auth import HeaderAuth, UpstreamAuth, bearer
from tripoint.providers.azure_openai.provider import AzureOpenAIProvider
from tripoint.providers.base import Provider
from tripoint.providers.cohere.provider import CohereProvider
from tripoint.providers.kserve.provider import KServeProvider
from tripoint.providers.mlflow.provider import MLflowProvider
from tripoint.providers.oauth import ENTRA_TOKEN_URL, ClientCredentialsAuth
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
        case AnthropicBackend():
            headers = {"anthropic-version": backend.version, **backend.headers}
            if backend.beta:
                headers["anthropic-beta"] = ",".join(backend.beta)
            upstream = Upstream(
                name,
                str(backend.base_url),
                HeaderAuth("x-api-key", backend.api_key),
                backend.timeouts,
                max_connections=backend.max_connections,
                headers=headers,
            )
            return AnthropicProvider(upstream, max_tokens=backend.max_tokens)
        case CohereBackend():
            upstream = Upstream(
                name,
                str(backend.base_url),
                bearer(backend.api_key),
                backend.timeouts,
                max_connections=backend.max_connections,
                headers=dict(backend.headers),
            )
            return CohereProvider(upstream, embed_input_type=backend.embed_input_type)
        case AzureOpenAIBackend():
            auth = _azure_auth(name, backend)
            upstream = Upstream(
                name,
                str(backend.endpoint).rstrip("/") + "/openai",
                auth,
                backend.timeouts,
                max_connections=backend.max_connections,
                headers=dict(backend.headers),
            )
            return AzureOpenAIProvider(upstream, auth, api_version=backend.api_version)
        case TGIBackend() | OllamaBackend() | KServeBackend() | MLflowBackend():
            return _self_hosted(name, backend)


def _self_hosted(
    name: str, backend: TGIBackend | OllamaBackend | KServeBackend | MLflowBackend
) -> Provider:
    """Self-hosted servers: a bearer token when configured, the server's own wire format."""
    upstream = Upstream(
        name,
        str(backend.base_url),
        bearer(backend.api_key),
        backend.timeouts,
        max_connections=backend.max_connections,
        headers=dict(backend.headers),
    )
    match backend:
        case TGIBackend():
            return TGIProvider(upstream, template.resolve(backend.chat_template))
        case OllamaBackend():
            return OllamaProvider(upstream, backend.options, backend.keep_alive)
        case KServeBackend():
            return KServeProvider(upstream)
        case MLflowBackend():
            return MLflowProvider(
                upstream,
                input_format=backend.input_format,
                columns=backend.columns,
                output_name=backend.output_name,
            )


def _azure_auth(name: str, backend: AzureOpenAIBackend) -> UpstreamAuth:
    if backend.entra is not None:
        entra = backend.entra
        token_url = str(entra.token_url or ENTRA_TOKEN_URL.format(tenant=entra.tenant_id))
        return ClientCredentialsAuth(
            name, token_url, entra.client_id, entra.client_secret, entra.scope
        )
    if backend.bearer_token is not None:
        return bearer(backend.bearer_token)
    return HeaderAuth("api-key", backend.api_key or SecretStr(""))


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
