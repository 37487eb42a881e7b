"""End to end: the official openai SDK through the real gateway to Bedrock, Vertex and OpenAI
fakes gets answers of identical shape, streamed or not, tool calls included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.vertex_upstream import FakeVertex
from tests.providers.cloud.backends import (
    BEDROCK_MODEL,
    VERTEX_MODEL,
    bedrock_backend,
    vertex_backend,
)
from tests.servers import GatewayThread
from tripoint.config.schema import Settings

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
HELLO: Any = [{"role": "user", "content": "Hello there"}]
FAKES = {"chat-bedrock": "bedrock", "chat-vertex": "vertex"}


@pytest.fixture(scope="module")
def gateway(
    fake_bedrock: FakeBedrock,
    fake_vertex: FakeVertex,
    fake_openai: FakeOpenAI,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayThread]:
    secrets = tmp_path_factory.mktemp("gateway-secrets")
    bedrock = bedrock_backend(fake_bedrock.url, secrets).model_dump(mode="json")
    vertex = vertex_backend(fake_vertex, secrets).model_dump(mode="json")
    for backend in (bedrock, vertex):  # back to references: config never holds a secret
        for name in ("access_key_id", "secret_access_key", "session_token", "service_account"):
            backend.pop(name, None)
    bedrock["access_key_id"] = f"file:{secrets / 'aws_key_id'}"
    bedrock["secret_access_key"] = f"file:{secrets / 'aws_secret'}"
    vertex["service_account"] = f"file:{secrets / 'service-account.json'}"
    settings = Settings.model_validate(
        {
            "backends": {
                "aws": bedrock,
                "gcp": vertex,
                "oai": {"type": "openai", "base_url": fake_openai.base_url},
            },
            "models": {
                "chat-bedrock": {"targets": [{"backend": "aws", "model": BEDROCK_MODEL}]},
                "chat-vertex": {"targets": [{"backend": "gcp", "model": VERTEX_MODEL}]},
                "chat-openai": {"targets": [{"backend": "oai", "model": "gpt-4o-mini"}]},
                "embed-bedrock": {
                    "targets": [{"backend": "aws", "model": "amazon.titan-embed-text-v2:0"}],
                    "operations": ["embeddings"],
                },
                "embed-vertex": {
                    "targets": [{"backend": "gcp", "model": "text-embedding-005"}],
                    "operations": ["embeddings"],
                },
                "embed-openai": {
                    "targets": [{"backend": "oai", "model": "text-embedding-3-small"}],
                    "operations": ["embeddings"],
                },
            },
        }
    )
    server = GatewayThread(settings).start()
    yield server
    server.stop()


@pytest.fixture
def client(
    gateway: GatewayThread, fake_bedrock: FakeBedrock, fake_vertex: FakeVertex, upstream: FakeOpenAI
) -> Iterator[openai.OpenAI]:
    fake_bedrock.reset()
    fake_vertex.reset()
    yield openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    fake_bedrock.reset()
    fake_vertex.reset()


def same_shape(ours: Any, theirs: Any, path: str = "$") -> list[str]:
    """Where two JSON values differ in shape: keys and types; null matches anything."""
    if ours is None or theirs is None:
        return []
    if isinstance(ours, dict) and isinstance(theirs, dict):
        problems = (
            [f"{path}: keys {sorted(set(ours) ^ set(theirs))}"] if set(ours) != set(theirs) else []
        )
        for key in set(ours) & set(theirs):
            problems += same_shape(ours[key], theirs[key], f"{path}.{key}")
        return problems
    if isinstance(ours, list) and isinstance(theirs, list):
        return [
            p
            for a, b in zip(ours[:1], theirs[:1], strict=False)
            for p in same_shape(a, b, f"{path}[0]")
        ]
    numeric = (int, float)
    if isinstance(ours, numeric) and isinstance(theirs, numeric) and not isinstance(ours, bool):
        return []
    return (
        []
        if type(ours) is type(theirs)
        else [f"{path}: {type(ours).__name__} vs {type(theirs).__name__}"]
    )


@pytest.mark.parametrize("model", ["chat-bedrock", "chat-vertex"])
def test_answers_like_openai(client: openai.OpenAI, model: str) -> None:
    reference = client.chat.completions.create(model="chat-openai", messages=HELLO)

    answer = client.chat.completions.create(model=model, messages=HELLO)

    assert answer.choices[0].message.content == "Hello! How can I help you today?"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == model
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (12, 9)
    assert same_shape(answer.model_dump(), reference.model_dump()) == []


@pytest.mark.parametrize("model", ["chat-bedrock", "chat-vertex"])
def test_streams_like_openai(client: openai.OpenAI, model: str) -> None:
    options: Any = {"include_usage": True}
    reference = list(
        client.chat.completions.create(
            model="chat-openai", messages=HELLO, stream=True, stream_options=options
        )
    )

    chunks = list(
        client.chat.completions.create(
            model=model, messages=HELLO, stream=True, stream_options=options
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! How can I help you today?"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 21
    assert same_shape(chunks[0].model_dump(), reference[0].model_dump()) == []
    assert same_shape(chunks[-1].model_dump(), reference[-1].model_dump()) == []


@pytest.mark.parametrize("model", ["chat-bedrock", "chat-vertex"])
def test_returns_tool_calls_like_openai(
    client: openai.OpenAI,
    upstream: FakeOpenAI,
    fake_bedrock: FakeBedrock,
    fake_vertex: FakeVertex,
    model: str,
) -> None:
    upstream.then(tool_call=("get_weather", '{"city": "Paris", "unit": "celsius"}'))
    reference = client.chat.completions.create(
        model="chat-openai", messages=HELLO, tools=[WEATHER_TOOL]
    )
    fake = fake_bedrock if model == "chat-bedrock" else fake_vertex
    fake.then(scenario="tool_call")

    answer = client.chat.completions.create(model=model, messages=HELLO, tools=[WEATHER_TOOL])

    message = answer.choices[0].message
    assert message.tool_calls is not None
    (call,) = message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert answer.choices[0].finish_reason == "tool_calls"
    ours, theirs = answer.model_dump(), reference.model_dump()
    ours["choices"][0]["message"]["content"] = None  # ours says what it does before calling
    assert same_shape(ours, theirs) == []


@pytest.mark.parametrize("model", ["chat-bedrock", "chat-vertex"])
def test_streams_tool_call_arguments_that_reassemble(
    client: openai.OpenAI,
    upstream: FakeOpenAI,
    fake_bedrock: FakeBedrock,
    fake_vertex: FakeVertex,
    model: str,
) -> None:
    upstream.then(tool_call=("get_weather", '{"city": "Paris", "unit": "celsius"}'))
    reference = list(
        client.chat.completions.create(
            model="chat-openai", messages=HELLO, tools=[WEATHER_TOOL], stream=True
        )
    )
    fake = fake_bedrock if model == "chat-bedrock" else fake_vertex
    fake.then(scenario="tool_call", piece=3)

    chunks = list(
        client.chat.completions.create(
            model=model, messages=HELLO, tools=[WEATHER_TOOL], stream=True
        )
    )

    deltas = [t for c in chunks if c.choices for t in (c.choices[0].delta.tool_calls or [])]
    assert {t.index for t in deltas} == {0}
    assert [t.function.name for t in deltas if t.function and t.function.name] == ["get_weather"]
    arguments = "".join(t.function.arguments or "" for t in deltas if t.function)
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    ours = next(c for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    theirs = next(c for c in reference if c.choices and c.choices[0].delta.tool_calls)
    assert same_shape(ours.model_dump(), theirs.model_dump()) == []


@pytest.mark.parametrize("model", ["embed-bedrock", "embed-vertex"])
def test_embeds_like_openai(client: openai.OpenAI, model: str) -> None:
    reference = client.embeddings.create(model="embed-openai", input=["hello world", "good night"])

    answer = client.embeddings.create(model=model, input=["hello world", "good night"])

    assert [row.embedding[0] for row in answer.data] == [11.0, 10.0]
    assert answer.usage.prompt_tokens > 0
    assert same_shape(answer.model_dump(), reference.model_dump()) == []


@pytest.mark.parametrize("model", ["chat-bedrock", "chat-vertex"])
def test_upstream_rate_limit_reaches_the_client_as_429(
    client: openai.OpenAI, fake_bedrock: FakeBedrock, fake_vertex: FakeVertex, model: str
) -> None:
    (fake_bedrock if model == "chat-bedrock" else fake_vertex).then(
        status=429, headers={"Retry-After": "9"}
    )

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=model, messages=HELLO)

    assert caught.value.response.headers.get("retry-after") == "9"
    assert caught.value.body is not None


@pytest.mark.parametrize("model", ["chat-bedrock", "chat-vertex"])
@pytest.mark.parametrize("stream", [False, True])
def test_garbage_from_upstream_is_a_clean_502(
    client: openai.OpenAI,
    fake_bedrock: FakeBedrock,
    fake_vertex: FakeVertex,
    model: str,
    *,
    stream: bool,
) -> None:
    (fake_bedrock if model == "chat-bedrock" else fake_vertex).then(
        body=b"<html><h1>Service Unavailable</h1></html>", content_type="text/html"
    )

    with pytest.raises(openai.APIStatusError) as caught:
        list(
            client.chat.completions.create(model=model, messages=HELLO, stream=True)
        ) if stream else (client.chat.completions.create(model=model, messages=HELLO))

    assert caught.value.status_code == 502
    body: Any = caught.value.body
    assert body["type"] == "upstream_error"
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize("model", ["chat-bedrock", "chat-vertex"])
def test_a_stream_cut_mid_answer_ends_with_an_error_not_a_clean_finish(
    client: openai.OpenAI, fake_bedrock: FakeBedrock, fake_vertex: FakeVertex, model: str
) -> None:
    (fake_bedrock if model == "chat-bedrock" else fake_vertex).then(scenario="text", cut_at=-5)

    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model=model, messages=HELLO, stream=True))
