"""The `local` backend through the real gateway (uvicorn) with the official openai SDK."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest

from tests.engine.models import MINILM, stories
from tests.servers import GatewayThread
from tripoint.config import parse_settings
from tripoint.engine import Engine
from tripoint.providers.local.provider import LocalProvider


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayThread]:
    embed_model = (
        f"""
      minilm: {{path: {MINILM}, context: 256}}"""
        if (MINILM / "model.onnx").is_file()
        else ""
    )
    settings = parse_settings(
        f"""
batch: {{enabled: false}}
backends:
  local:
    type: local
    models:
      stories:
        {{path: {stories()}, max_tokens: 2000, temperature: 0, stream_interval: 0}}{embed_model}
models:
  chat-local:
    targets: [{{backend: local, model: stories}}]
    operations: [chat, completions]
  embed-local:
    targets: [{{backend: local, model: {"minilm" if embed_model else "stories"}}}]
    operations: [embeddings]
"""
    )
    server = GatewayThread(settings).start()
    yield server
    server.stop()


@pytest.fixture
def client(gateway: GatewayThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def engine_of(gateway: GatewayThread) -> Engine:
    provider = gateway.server.config.app.state.gateway.providers["local"]
    assert isinstance(provider, LocalProvider)
    return provider.engine


def wait_until_ready(gateway: GatewayThread) -> httpx.Response:
    for _ in range(500):
        response = httpx.get(gateway.url + "/readyz")
        if response.status_code == 200:
            return response
        time.sleep(0.02)
    return response


def test_readyz_reports_the_local_backend(gateway: GatewayThread) -> None:
    response = wait_until_ready(gateway)

    assert response.status_code == 200
    assert response.json()["checks"]["backend:local"] is True


def test_chat_answers_with_the_model_text_and_usage(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="chat-local", messages=[{"role": "user", "content": "A cat"}], max_tokens=12
    )

    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 12


def test_streamed_completion_equals_the_whole_one(client: openai.OpenAI) -> None:
    whole = client.completions.create(model="chat-local", prompt="Once upon a time", max_tokens=30)

    stream = client.completions.create(
        model="chat-local",
        prompt="Once upon a time",
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole.choices[0].text
    assert text.startswith(", there was a little girl named Lily.")
    assert len([c for c in chunks if c.choices and c.choices[0].text]) > 10
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 30


def test_streamed_chat_yields_deltas_then_finish(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="chat-local",
        messages=[{"role": "user", "content": "A dog"}],
        max_tokens=20,
        stream=True,
    )

    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks if c.choices[0].delta.content) > 5
    assert chunks[-1].choices[0].finish_reason == "length"


def test_client_disconnect_stops_the_generation(gateway: GatewayThread) -> None:
    engine = engine_of(gateway)
    before = engine.stats("stories")
    body = {"model": "chat-local", "prompt": "Once upon a time", "max_tokens": 2000, "stream": True}

    with httpx.stream("POST", gateway.url + "/v1/completions", json=body, timeout=10) as response:
        lines = response.iter_lines()
        next(line for line in lines if line.startswith("data: "))

    for _ in range(500):
        now = engine.stats("stories")
        if now.running == 0 and now.stopped > before.stopped:
            break
        time.sleep(0.01)
    assert now.stopped == before.stopped + 1
    assert now.completed == before.completed
    assert now.running == 0


def test_unsupported_fields_are_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="chat-local", messages=[{"role": "user", "content": "Hi"}], n=2
        )

    assert caught.value.body["param"] == "n"  # type: ignore[index]


def test_max_tokens_over_the_model_limit_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="at most 2000"):
        client.completions.create(model="chat-local", prompt="Once", max_tokens=5000)


def test_embeddings_through_the_gateway(client: openai.OpenAI) -> None:
    if not (MINILM / "model.onnx").is_file():
        pytest.skip(f"{MINILM} is absent: run `tripoint models pull-defaults`")

    floats = client.embeddings.create(model="embed-local", input=["food", "bread", "movie"])
    packed = client.embeddings.create(model="embed-local", input="food", encoding_format="base64")

    food, bread, movie = (np.array(d.embedding) for d in floats.data)
    assert food @ bread > food @ movie
    packed_vector = np.frombuffer(base64.b64decode(str(packed.data[0].embedding)), dtype="<f4")
    assert np.allclose(packed_vector, food, atol=1e-6)
    assert floats.usage.prompt_tokens == 9
