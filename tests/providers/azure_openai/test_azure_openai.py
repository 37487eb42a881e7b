"""Azure OpenAI: deployment URLs, credentials (API key, bearer, Entra client credentials)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest
from pydantic import SecretStr, TypeAdapter, ValidationError

from tests.fakes.replay_upstream import ReplayServer, Reply
from tests.providers.conformance.case import FIXTURES
from tripoint.config.schema import Backend
from tripoint.errors import UpstreamError
from tripoint.providers.azure_openai.provider import AzureOpenAIProvider, deployment_path
from tripoint.providers.oauth import ClientCredentialsAuth
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.target import Target
from tripoint.schema.requests import ChatRequest, EmbeddingRequest

TOKEN = {
    "token_type": "Bearer",
    "expires_in": 3599,
    "ext_expires_in": 3599,
    "access_token": "eyJ0eXAi.first",
}
TEXT = (FIXTURES / "azure_openai" / "text.json").read_bytes()


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(replay: ReplayServer) -> Iterator[ReplayServer]:
    replay.reset()
    yield replay
    replay.reset()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def entra(upstream: ReplayServer) -> AsyncIterator[tuple[ClientCredentialsAuth, Clock]]:
    clock = Clock()
    auth = ClientCredentialsAuth(
        "azure",
        f"{upstream.url}/tenant-1/oauth2/v2.0/token",
        "client-1",
        SecretStr("s3cret"),
        "https://cognitiveservices.azure.com/.default",
        clock=clock,
    )
    yield auth, clock
    await auth.close()


def token_reply(value: str = TOKEN["access_token"], expires_in: int = 3599) -> Reply:
    return Reply(orjson.dumps({**TOKEN, "access_token": value, "expires_in": expires_in}))


def backend(url: str, **credentials: Any) -> Any:
    return TypeAdapter(Backend).validate_python(
        {"type": "azure_openai", "endpoint": url, "api_version": "2024-10-21", **credentials}
    )


def test_deployment_path_quotes_the_deployment_and_version() -> None:
    path = deployment_path("/chat/completions", "gpt 4o/eu", "2024-10-21")

    assert path == "/deployments/gpt%204o%2Feu/chat/completions?api-version=2024-10-21"


async def test_one_token_serves_concurrent_requests(
    entra: tuple[ClientCredentialsAuth, Clock], upstream: ReplayServer
) -> None:
    auth, _ = entra
    upstream.queue(token_reply())

    headers = await asyncio.gather(*(auth.headers("POST", "u", b"") for _ in range(5)))

    assert {h["Authorization"] for h in headers} == {"Bearer eyJ0eXAi.first"}
    [seen] = upstream.seen
    assert seen.path == "/tenant-1/oauth2/v2.0/token"
    assert parse_qs(seen.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["client-1"],
        "client_secret": ["s3cret"],
        "scope": ["https://cognitiveservices.azure.com/.default"],
    }


async def test_token_is_refreshed_before_it_expires(
    entra: tuple[ClientCredentialsAuth, Clock], upstream: ReplayServer
) -> None:
    auth, clock = entra
    upstream.queue(token_reply("first", 3600), token_reply("second", 3600))
    assert await auth.token() == "first"

    clock.now += 3600 - 299  # under five minutes before it expires
    refreshed = await auth.token()

    assert refreshed == "second"
    assert len(upstream.seen) == 2


async def test_token_is_reused_while_fresh(
    entra: tuple[ClientCredentialsAuth, Clock], upstream: ReplayServer
) -> None:
    auth, clock = entra
    upstream.queue(token_reply("first", 3600))
    await auth.token()

    clock.now += 3000
    again = await auth.token()

    assert again == "first"
    assert len(upstream.seen) == 1


async def test_refused_client_secret_is_a_non_retryable_error_without_details(
    entra: tuple[ClientCredentialsAuth, Clock], upstream: ReplayServer
) -> None:
    auth, _ = entra
    refusal = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Trace ID: abc",
    }
    upstream.queue(Reply(orjson.dumps(refusal), status=401))

    with pytest.raises(UpstreamError) as caught:
        await auth.token()

    assert caught.value.retryable is False
    assert "invalid_client" in caught.value.message
    assert "AADSTS" not in caught.value.message


async def test_token_endpoint_without_a_token_is_an_upstream_error(
    entra: tuple[ClientCredentialsAuth, Clock], upstream: ReplayServer
) -> None:
    auth, _ = entra
    upstream.queue(Reply(b"<html>login</html>", content_type="text/html"))

    with pytest.raises(UpstreamError, match="no access_token"):
        await auth.token()


async def test_entra_backend_sends_the_fetched_token_to_the_deployment(
    upstream: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENTRA_SECRET", "s3cret")
    config = backend(
        upstream.url,
        entra={
            "tenant_id": "t",
            "client_id": "c",
            "client_secret": "env:ENTRA_SECRET",
            "token_url": f"{upstream.url}/t/oauth2/v2.0/token",
        },
    )
    provider = build_provider("azure", config)
    assert isinstance(provider, AzureOpenAIProvider)
    upstream.queue(token_reply("entra-token"), Reply(TEXT))
    request = ChatRequest.model_validate_json(
        b'{"model":"m","messages":[{"role":"user","content":"Hi"}]}'
    )
    await provider.start()
    try:
        chunks = [
            c
            async for c in provider.chat(request, Target(facts_of("azure", config), "gpt-4o-prod"))
        ]
    finally:
        await provider.close()

    assert chunks[0].choices[0].text == "Hello! How can I help you today?"
    token_call, chat_call = upstream.seen
    assert token_call.path == "/t/oauth2/v2.0/token"
    assert (
        chat_call.path == "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    )
    assert chat_call.headers["authorization"] == "Bearer entra-token"
    assert "api-key" not in chat_call.headers


async def test_embeddings_go_to_the_deployment_without_a_model_field(
    upstream: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_TOKEN", "pre-issued")
    config = backend(upstream.url, bearer_token="env:AZURE_TOKEN")
    provider = build_provider("azure", config)
    assert isinstance(provider, AzureOpenAIProvider)
    answer = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5]}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
    upstream.queue(Reply(orjson.dumps(answer)))
    await provider.start()
    try:
        result = await provider.embed(
            EmbeddingRequest.model_validate_json(b'{"model":"m","input":"hi"}'),
            Target(facts_of("azure", config), "embed-prod"),
        )
    finally:
        await provider.close()

    assert result.vectors == ([0.25, -0.5],)
    seen = upstream.last
    assert seen.path == "/openai/deployments/embed-prod/embeddings?api-version=2024-10-21"
    assert seen.headers["authorization"] == "Bearer pre-issued"
    assert json.loads(seen.body) == {"input": "hi"}


@pytest.mark.parametrize(
    "credentials",
    [{}, {"api_key": "env:AZURE_KEY", "bearer_token": "env:AZURE_KEY"}],
    ids=["none", "two"],
)
def test_exactly_one_credential_is_required(
    credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_KEY", "k")

    with pytest.raises(ValidationError, match="exactly one of api_key, bearer_token or entra"):
        backend("https://r.openai.azure.com", **credentials)
