"""Build a runtime provider from a backend's config: the one place that knows every `type`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from tripoint.config.defaults import model_dir as default_model_dir
from tripoint.config.schema import (
    AnthropicBackend,
    AzureOpenAIBackend,
    Backend,
    BedrockBackend,
    CohereBackend,
    KServeBackend,
    LocalBackend,
    MLflowBackend,
    OllamaBackend,
    OpenAIBackend,
    ServerSettings,
    TGIBackend,
    VertexBackend,
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
from tripoint.providers.tokens import TokenCounter
from tripoint.providers.upstream import Upstream
from tripoint.schema.json import JSONObject


def build_provider(
    name: str,
    backend: Backend,
    *,
    model_dir: Path | None = None,
    counter: TokenCounter | None = None,
) -> Provider:
    """`model_dir`: where local models' relative paths point (server.data_dir/models);
    `counter`: the gateway's token counter, shared (usage of answers that report none)."""
    match backend:
        case LocalBackend():
            # the engine (llama.cpp, ONNX Runtime) loads only where a local backend exists
            from tripoint.providers.local.provider import LocalProvider, engine_for  # noqa: PLC0415

            folder = model_dir if model_dir is not None else default_model_dir(ServerSettings())
            return LocalProvider(name, engine_for(backend, folder))
        case TGIBackend() | OllamaBackend() | KServeBackend() | MLflowBackend():
            return _self_hosted(name, backend)
        case _:
            return _provider_hosted(name, backend, counter)


def _provider_hosted(
    name: str,
    backend: OpenAIBackend
    | AnthropicBackend
    | CohereBackend
    | AzureOpenAIBackend
    | BedrockBackend
    | VertexBackend,
    counter: TokenCounter | None,
) -> Provider:
    """SaaS and cloud APIs, and OpenAI-compatible servers."""
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
            return OpenAIProvider(upstream, counter)
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
            return AzureOpenAIProvider(
                upstream, auth, api_version=backend.api_version, counter=counter
            )
        case BedrockBackend():
            from tripoint.providers.bedrock.provider import BedrockProvider  # noqa: PLC0415

            return BedrockProvider(_bedrock_upstream(name, backend), _guardrail(backend))
        case VertexBackend():
            from tripoint.providers.vertex.provider import VertexProvider  # noqa: PLC0415

            return VertexProvider(
                _vertex_upstream(name, backend), backend.project, backend.location
            )


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


def _bedrock_upstream(name: str, backend: BedrockBackend) -> Upstream:
    from tripoint.providers.bedrock.signing import AwsSigV4Auth  # noqa: PLC0415 -- botocore

    auth = (
        bearer(backend.api_key)
        if backend.api_key is not None
        else AwsSigV4Auth(
            backend.region,
            access_key_id=backend.access_key_id,
            secret_access_key=backend.secret_access_key,
            session_token=backend.session_token,
            profile=backend.profile,
        )
    )
    base_url = str(backend.base_url or f"https://bedrock-runtime.{backend.region}.amazonaws.com")
    return Upstream(name, base_url, auth, backend.timeouts, max_connections=backend.max_connections)


def _guardrail(backend: BedrockBackend) -> JSONObject | None:
    if backend.guardrail is None:
        return None
    return {
        "guardrailIdentifier": backend.guardrail.identifier,
        "guardrailVersion": backend.guardrail.version,
        "trace": backend.guardrail.trace,
        "streamProcessingMode": backend.guardrail.stream_processing,
    }


def _vertex_upstream(name: str, backend: VertexBackend) -> Upstream:
    from tripoint.providers.vertex.token import GoogleOAuth  # noqa: PLC0415 -- google-auth

    host = (
        "aiplatform.googleapis.com"
        if backend.location == "global"
        else f"{backend.location}-aiplatform.googleapis.com"
    )
    base_url = str(backend.base_url or f"https://{host}/v1")
    return Upstream(
        name,
        base_url,
        GoogleOAuth(backend.service_account),
        backend.timeouts,
        max_connections=backend.max_connections,
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
