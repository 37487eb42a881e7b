"""One gateway, one model name per inference pattern: SaaS (OpenAI's wire format, replayed),
cloud-managed (Bedrock Converse, replayed and SigV4-signed), self-managed (a real llama.cpp
server) and local (the embedded engine). The official openai SDK gets answers of the same shape
from all four, whole and streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.engine.models import stories
from tests.fakes.replay_upstream import ReplayServer
from tests.providers.answer_shape import chunk_kind, shape
from tests.providers.conformance.case import ProviderCase
from tests.providers.conformance.cases import all_cases
from tests.servers import GatewayThread
from tripoint.config.schema import Settings

pytestmark = pytest.mark.slow
CASES = {c.name: c for c in all_cases()}
REPLAYED = {"saas": CASES["openai"], "cloud": CASES["bedrock"]}
PATTERNS = ["saas", "cloud", "self_hosted", "local"]
HELLO = [{"role": "user", "content": "Hello!"}]
GREEDY = {"temperature": 0, "max_tokens": 24}


@pytest.fixture(scope="module")
def replays() -> Iterator[dict[str, ReplayServer]]:
    servers = {pattern: ReplayServer().start() for pattern in REPLAYED}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def client(llama_server: str, replays: dict[str, ReplayServer]) -> Iterator[openai.OpenAI]:
    backends: dict[str, Any] = {
        pattern: {**case.backend(replays[pattern].url), "pattern": pattern}
        for pattern, case in REPLAYED.items()
    }
    backends["self_hosted"] = {"type": "openai", "base_url": llama_server, "pattern": "self_hosted"}
    backends["local"] = {
        "type": "local",
        "models": {"stories": {"path": str(stories()), "temperature": 0, "stream_interval": 0}},
    }
    models = {p: {"targets": [{"backend": p, "model": c.model}]} for p, c in REPLAYED.items()}
    models["self_hosted"] = {"targets": [{"backend": "self_hosted", "model": "stories260K"}]}
    models["local"] = {"targets": [{"backend": "local", "model": "stories"}]}
    with pytest.MonkeyPatch.context() as env:
        for case in REPLAYED.values():
            for name, value in case.env.items():
                env.setenv(name, value)
        settings = Settings.model_validate(
            {"batch": {"enabled": False}, "backends": backends, "models": models}
        )
        gateway = GatewayThread(settings).start()
    try:
        yield openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    finally:
        gateway.stop()


def ask(
    client: openai.OpenAI, replays: dict[str, ReplayServer], pattern: str, *, stream: bool
) -> Any:
    if pattern in REPLAYED:
        case: ProviderCase = REPLAYED[pattern]
        replays[pattern].queue(case.reply(case.stream_name("text") if stream else "text.json"))
    options: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
    answer = client.chat.completions.create(
        model=pattern,
        messages=HELLO,  # type: ignore[arg-type]
        stream=stream,
        **GREEDY,
        **options,
    )
    return list(answer) if stream else answer


def test_a_whole_answer_has_one_shape_in_every_pattern(
    client: openai.OpenAI, replays: dict[str, ReplayServer]
) -> None:
    answers = {p: ask(client, replays, p, stream=False) for p in PATTERNS}

    shapes = {p: json.dumps(shape(a), sort_keys=True) for p, a in answers.items()}
    assert len(set(shapes.values())) == 1, shapes
    for pattern, answer in answers.items():
        assert answer.model == pattern
        assert answer.choices[0].message.content, pattern
        assert answer.usage.total_tokens > 0, pattern


def test_a_stream_has_one_set_of_chunk_shapes_in_every_pattern(
    client: openai.OpenAI, replays: dict[str, ReplayServer]
) -> None:
    streams = {p: ask(client, replays, p, stream=True) for p in PATTERNS}

    kinds = {p: sorted({chunk_kind(c) for c in chunks}) for p, chunks in streams.items()}
    for pattern, kind in kinds.items():
        assert kind == kinds["saas"], (pattern, kind)
    for pattern, chunks in streams.items():
        assert len({c.id for c in chunks}) == 1, pattern
        assert chunks[0].choices[0].delta.role == "assistant", pattern
        assert chunks[-1].usage is not None, pattern
        assert not chunks[-1].choices, pattern
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), pattern
