"""The openai SDK through the gateway to native TGI and Ollama wire formats: the same
OpenAI-shaped answers whichever self-hosted server answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest

from tests.fakes.replay_upstream import ReplayServer, Reply
from tests.servers import GatewayThread
from tripoint.config import parse_settings

FIXTURES = Path(__file__).parent.parent / "providers" / "fixtures"
HELLO = [{"role": "user", "content": "Hello!"}]
TEXT = "Hello! How can I help you today?"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[ReplayServer, ReplayServer]]:
    tgi = ReplayServer().start()
    ollama = ReplayServer().start()
    yield tgi, ollama
    tgi.stop()
    ollama.stop()


@pytest.fixture
def client(upstreams: tuple[ReplayServer, ReplayServer]) -> Iterator[openai.OpenAI]:
    tgi, ollama = upstreams
    for upstream in upstreams:
        upstream.reset()
    settings = parse_settings(f"""
backends:
  tgi-box: {{type: tgi, base_url: "{tgi.url}", chat_template: llama3}}
  ollama-box: {{type: ollama, base_url: "{ollama.url}", keep_alive: 10m}}
models:
  tgi-chat: {{targets: [{{backend: tgi-box, model: served}}]}}
  ollama-chat: {{targets: [{{backend: ollama-box, model: llama3.2}}]}}
""")
    gateway = GatewayThread(settings).start()
    yield openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    gateway.stop()


def test_tgi_answers_openai_shaped(
    client: openai.OpenAI, upstreams: tuple[ReplayServer, ReplayServer]
) -> None:
    tgi, _ = upstreams
    tgi.queue(Reply(fixture("tgi/text.json")))

    answer = client.chat.completions.create(model="tgi-chat", messages=HELLO)  # type: ignore[arg-type]

    assert answer.object == "chat.completion"
    assert answer.model == "tgi-chat"
    assert answer.choices[0].message.content == TEXT
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 10)
    sent = orjson.loads(tgi.last.body)
    assert sent["inputs"].startswith("<|begin_of_text|><|start_header_id|>user")
    assert tgi.last.path == "/generate"


def test_tgi_streams_with_usage_when_asked(
    client: openai.OpenAI, upstreams: tuple[ReplayServer, ReplayServer]
) -> None:
    tgi, _ = upstreams
    tgi.queue(Reply(fixture("tgi/text.sse"), content_type="text/event-stream"))

    chunks = list(
        client.chat.completions.create(
            model="tgi-chat",
            messages=HELLO,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 21
    assert tgi.last.path == "/generate_stream"


def test_ollama_streams_openai_shaped(
    client: openai.OpenAI, upstreams: tuple[ReplayServer, ReplayServer]
) -> None:
    _, ollama = upstreams
    ollama.queue(Reply(fixture("ollama/text.ndjson"), content_type="application/x-ndjson"))

    chunks = list(client.chat.completions.create(model="ollama-chat", messages=HELLO, stream=True))  # type: ignore[arg-type]

    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert all(c.usage is None for c in chunks), "usage only when the client asks"
    sent = orjson.loads(ollama.last.body)
    assert sent["model"] == "llama3.2"
    assert sent["keep_alive"] == "10m"
    assert ollama.last.path == "/api/chat"


def test_ollama_tool_call_reaches_the_sdk_as_an_openai_tool_call(
    client: openai.OpenAI, upstreams: tuple[ReplayServer, ReplayServer]
) -> None:
    _, ollama = upstreams
    ollama.queue(Reply(fixture("ollama/tool_call.json")))
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}

    answer = client.chat.completions.create(model="ollama-chat", messages=HELLO, tools=[tool])  # type: ignore[arg-type, list-item]

    [call] = answer.choices[0].message.tool_calls or []
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}  # type: ignore[union-attr]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert ollama.last.path == "/api/chat"


def test_ollama_embeddings(
    client: openai.OpenAI, upstreams: tuple[ReplayServer, ReplayServer]
) -> None:
    _, ollama = upstreams
    ollama.queue(Reply(fixture("ollama/embed.json")))

    answer = client.embeddings.create(model="ollama-chat", input=["a", "b"])

    assert [len(d.embedding) for d in answer.data] == [4, 4]
    assert answer.usage.prompt_tokens == 8
    assert ollama.last.path == "/api/embed"


def test_a_cut_ollama_stream_ends_in_an_error_not_a_clean_finish(
    client: openai.OpenAI, upstreams: tuple[ReplayServer, ReplayServer]
) -> None:
    _, ollama = upstreams
    cut = b"".join(fixture("ollama/text.ndjson").splitlines(keepends=True)[:-1])
    ollama.queue(Reply(cut, content_type="application/x-ndjson"))

    stream = client.chat.completions.create(model="ollama-chat", messages=HELLO, stream=True)  # type: ignore[arg-type]

    with pytest.raises(openai.APIError, match="ended the stream early"):
        list(stream)
