"""The `local` backend's config, and the embedded defaults answering out of the box."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.engine.models import DEFAULTS, MINILM, SMOLLM2
from tests.servers import GatewayThread
from tripoint.config import parse_settings
from tripoint.config.defaults import embedded_settings
from tripoint.errors import ConfigError


def test_a_target_must_name_a_model_of_its_local_backend() -> None:
    with pytest.raises(ConfigError, match=r"models.chat.targets.0.model: .* no model 'nope'"):
        parse_settings(
            """
backends:
  local: {type: local, models: {tiny: {path: tiny.gguf}}}
models:
  chat: {targets: [{backend: local, model: nope}]}
"""
        )


def test_local_model_keys_are_strict() -> None:
    with pytest.raises(ConfigError, match=r"backends.local.models.tiny.thread: unknown key"):
        parse_settings("backends: {local: {type: local, models: {tiny: {path: a, thread: 2}}}}")


@pytest.fixture(scope="module")
def defaults_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    if not SMOLLM2.is_file() or not (MINILM / "model.onnx").is_file():
        pytest.skip(f"default models absent from {DEFAULTS}: run `tripoint models pull-defaults`")
    data_dir: Path = tmp_path_factory.mktemp("data")
    (data_dir / "models").symlink_to(DEFAULTS, target_is_directory=True)
    settings = embedded_settings()
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"data_dir": data_dir})}
    )
    server = GatewayThread(settings).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_embedded_defaults_answer_chat_and_embeddings(defaults_gateway: GatewayThread) -> None:
    client = openai.OpenAI(base_url=defaults_gateway.url + "/v1", api_key="-", max_retries=0)

    chat = client.chat.completions.create(
        model="chat-local", messages=[{"role": "user", "content": "Hello!"}], max_tokens=4
    )
    embedding = client.embeddings.create(model="embed-local", input="Hello!")

    assert chat.choices[0].message.content
    assert chat.usage is not None
    assert chat.usage.completion_tokens <= 4
    assert len(embedding.data[0].embedding) == 384


def test_a_missing_model_file_is_not_ready_and_a_clear_502(tmp_path: Path) -> None:
    settings = parse_settings(
        f"""
server: {{data_dir: {tmp_path}}}
backends:
  local: {{type: local, models: {{gone: {{path: gone.gguf}}}}}}
models:
  chat-local: {{targets: [{{backend: local, model: gone}}]}}
"""
    )
    server = GatewayThread(settings).start()
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="-", max_retries=0)
        ready = httpx.get(server.url + "/readyz")

        with pytest.raises(openai.APIStatusError) as caught:
            client.completions.create(model="chat-local", prompt="Hi")

        assert ready.status_code == 503
        assert ready.json()["checks"]["backend:local"] is False
        assert caught.value.status_code == 502
        assert "gone.gguf does not exist" in caught.value.message
    finally:
        server.stop()
