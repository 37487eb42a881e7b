"""Azure OpenAI over HTTP: OpenAI's wire format at deployment URLs with an `api-version`.

The OpenAI provider does the exchange; this only says where each operation lives, drops the
body's `model` (the deployment in the URL names it) and drops the stream chunks Azure adds
that carry neither a choice nor usage (its prompt filter annotations): clients that read
`chunk.choices[0]` of every chunk, as OpenAI's own streams allow, would fail on them. Entra
token auth, when configured, is started and closed with the provider.
"""

from __future__ import annotations

from urllib.parse import quote

from tripoint.providers.auth import UpstreamAuth
from tripoint.providers.base import ChatStream, Lifecycle
from tripoint.providers.openai.provider import OpenAIProvider
from tripoint.providers.target import Target
from tripoint.providers.tokens import TokenCounter
from tripoint.providers.upstream import Upstream
from tripoint.schema.json import JSONObject
from tripoint.schema.requests import ChatRequest, CompletionRequest, EmbeddingRequest


def deployment_path(endpoint: str, deployment: str, api_version: str) -> str:
    """`/deployments/{deployment}{endpoint}?api-version=...`, below `{resource}/openai`."""
    return (
        f"/deployments/{quote(deployment, safe='')}{endpoint}"
        f"?api-version={quote(api_version, safe='')}"
    )


class AzureOpenAIProvider(OpenAIProvider):
    name = "azure_openai"

    def __init__(
        self,
        upstream: Upstream,
        auth: UpstreamAuth,
        *,
        api_version: str,
        counter: TokenCounter | None = None,
    ) -> None:
        super().__init__(upstream, counter)
        self._auth = auth
        self._api_version = api_version

    async def start(self) -> None:
        if isinstance(self._auth, Lifecycle):
            await self._auth.start()
        await super().start()

    async def close(self) -> None:
        await super().close()
        if isinstance(self._auth, Lifecycle):
            await self._auth.close()

    def chat(self, request: ChatRequest, target: Target) -> ChatStream:
        return _answers_only(super().chat(request, target))

    def complete(self, request: CompletionRequest, target: Target) -> ChatStream:
        return _answers_only(super().complete(request, target))

    def _path(self, endpoint: str, target: Target) -> str:
        return deployment_path(endpoint, target.model, self._api_version)

    def _body(
        self, request: ChatRequest | CompletionRequest | EmbeddingRequest, target: Target
    ) -> JSONObject:
        body = super()._body(request, target)
        del body["model"]
        return body


async def _answers_only(stream: ChatStream) -> ChatStream:
    try:
        async for chunk in stream:
            if chunk.choices or chunk.usage is not None:
                yield chunk
    finally:
        await stream.aclose()
