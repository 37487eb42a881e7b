"""Cohere embeddings over real HTTP: the provider against a replay upstream, and the openai
SDK through the gateway."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator

import openai
import pytest

from tests.fakes.replay_upstream import ReplayServer, Reply
from tests.providers.codec_fixtures import document
from tests.providers.conformance.case import FIXTURES
from tests.servers import GatewayThread
from tripoint.config.schema import Settings

EMBED = (FIXTURES / "cohere" / "embed.json").read_bytes()


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(upstream: ReplayServer) -> Iterator[GatewayThread]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COHERE_TEST_KEY", "co-embed-key")
        settings = Settings.model_validate(
            {
                "backends": {
                    "cohere": {
                        "type": "cohere",
                        "base_url": upstream.url,
                        "api_key": "env:COHERE_TEST_KEY",
                    }
                },
                "models": {
                    "embed": {
                        "targets": [{"backend": "cohere", "model": "embed-v4.0"}],
                        "operations": ["embeddings"],
                    }
                },
            }
        )
    server = GatewayThread(settings).start()
    yield server
    server.stop()


@pytest.fixture
def client(gateway: GatewayThread, upstream: ReplayServer) -> openai.OpenAI:
    upstream.reset()
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def test_sdk_embeddings_come_from_cohere_v2_embed(  # the SDK asks for base64 and decodes it
    client: openai.OpenAI, upstream: ReplayServer
) -> None:
    upstream.queue(Reply(EMBED))

    answer = client.embeddings.create(model="embed", input=["hello", "goodbye"])

    assert [len(row.embedding) for row in answer.data] == [4, 4]
    assert answer.data[1].embedding[0] == pytest.approx(-0.0010528564)
    assert answer.usage.prompt_tokens == 2
    assert upstream.last.path == "/v2/embed"
    assert upstream.last.headers["authorization"] == "Bearer co-embed-key"
    assert json.loads(upstream.last.body) == document("cohere", "request_embed.json")


def test_sdk_base64_embeddings_decode_to_cohere_floats(
    client: openai.OpenAI, upstream: ReplayServer
) -> None:
    upstream.queue(Reply(EMBED))

    answer = client.embeddings.create(
        model="embed", input=["hello", "goodbye"], encoding_format="base64"
    )

    packed = answer.data[0].embedding
    assert isinstance(packed, str)
    floats = struct.unpack("<4f", base64.b64decode(packed))
    assert floats == pytest.approx(document("cohere", "embed.json")["embeddings"]["float"][0])


def test_embed_rejection_reaches_the_sdk_as_400(
    client: openai.OpenAI, upstream: ReplayServer
) -> None:
    body = json.dumps({"id": "x", "message": "invalid request: too many texts"}).encode()
    upstream.queue(Reply(body, status=400))

    with pytest.raises(openai.BadRequestError, match="too many texts"):
        client.embeddings.create(model="embed", input="hello")
