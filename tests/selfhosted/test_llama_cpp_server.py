"""A real `python -m llama_cpp.server` behind the gateway's `openai` backend type, driven by
the official openai SDK: the self-hosted pattern end to end, streamed and not."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.servers import GatewayThread
from tripoint.config import parse_settings

pytestmark = pytest.mark.slow
GREEDY = {"temperature": 0, "max_tokens": 24}


@pytest.fixture(scope="module")
def clients(llama_server: str) -> Iterator[tuple[openai.OpenAI, openai.OpenAI]]:
    """(through the gateway, straight to llama.cpp), both the official SDK."""
    settings = parse_settings(f"""
backends:
  llama-box:
    type: openai
    base_url: {llama_server}
    pattern: self_hosted
models:
  stories:
    targets: [{{backend: llama-box, model: stories260K}}]
    operations: [chat, completions]
""")
    gateway = GatewayThread(settings).start()
    try:
        yield (
            openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0),
            openai.OpenAI(base_url=llama_server, api_key="unused", max_retries=0),
        )
    finally:
        gateway.stop()


def test_completion_is_the_models_own_greedy_text(
    clients: tuple[openai.OpenAI, openai.OpenAI],
) -> None:
    gateway, direct = clients

    answer = gateway.completions.create(model="stories", prompt="Once upon a time", **GREEDY)
    reference = direct.completions.create(model="x", prompt="Once upon a time", **GREEDY)

    assert answer.model == "stories"
    assert answer.choices[0].text.startswith(", there was a little girl named Lily.")
    assert answer.choices[0].text == reference.choices[0].text
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 24
    assert answer.usage.prompt_tokens == reference.usage.prompt_tokens  # type: ignore[union-attr]


def test_streamed_completion_says_the_same(clients: tuple[openai.OpenAI, openai.OpenAI]) -> None:
    gateway, _ = clients
    whole = gateway.completions.create(model="stories", prompt="Once upon a time", **GREEDY)

    pieces = list(
        gateway.completions.create(
            model="stories", prompt="Once upon a time", stream=True, **GREEDY
        )
    )

    assert len(pieces) > 2
    assert "".join(p.choices[0].text for p in pieces if p.choices) == whole.choices[0].text


def test_chat_matches_the_server_answered_directly(
    clients: tuple[openai.OpenAI, openai.OpenAI],
) -> None:
    gateway, direct = clients
    messages = [{"role": "user", "content": "Tell me a story about a cat."}]

    answer = gateway.chat.completions.create(model="stories", messages=messages, **GREEDY)  # type: ignore[arg-type]
    reference = direct.chat.completions.create(model="x", messages=messages, **GREEDY)  # type: ignore[arg-type]

    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content
    assert answer.choices[0].message.content == reference.choices[0].message.content
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 24


def test_streamed_chat_says_the_same_in_pieces(
    clients: tuple[openai.OpenAI, openai.OpenAI],
) -> None:
    gateway, _ = clients
    messages = [{"role": "user", "content": "Tell me a story about a cat."}]
    whole = gateway.chat.completions.create(model="stories", messages=messages, **GREEDY)  # type: ignore[arg-type]

    chunks = list(
        gateway.chat.completions.create(
            model="stories",
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            **GREEDY,  # type: ignore[arg-type]
        )
    )

    text = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert sum(1 for t in text if t) > 2
    assert "".join(text) == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert all(c.model == "stories" for c in chunks)
