"""Build a runtime provider from a backend's config: the one place that knows every `type`."""

from __future__ import annotations

from tripoint.config.schema import Backend, BedrockBackend, OpenAIBackend, VertexBackend
from tripoint.providers.auth import bearer
from tripoint.providers.base import Provider
from tripoint.providers.bedrock.provider import BedrockProvider
from tripoint.providers.bedrock.signing import AwsSigV4Auth
from tripoint.providers.openai.provider import OpenAIProvider
from tripoint.providers.target import BackendFacts
from tripoint.providers.upstream import Upstream
from tripoint.providers.vertex.provider import VertexProvider
from tripoint.providers.vertex.token import GoogleOAuth
from tripoint.schema.json import JSONObject


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
        case BedrockBackend():
            return BedrockProvider(_bedrock_upstream(name, backend), _guardrail(backend))
        case VertexBackend():
            return VertexProvider(
                _vertex_upstream(name, backend), backend.project, backend.location
            )


def _bedrock_upstream(name: str, backend: BedrockBackend) -> Upstream:
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
