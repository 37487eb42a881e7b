"""The `openai` backend type against OpenAI's documented Chat Completions wire format."""

from __future__ import annotations

from typing import Any

from tests.providers.conformance.case import Expected, ProviderCase

KEY = "sk-conformance-openai"


def _backend(url: str) -> dict[str, Any]:
    return {"type": "openai", "base_url": f"{url}/v1", "api_key": "env:CONFORMANCE_OPENAI_KEY"}


CASE = ProviderCase(
    name="openai",
    backend=_backend,
    model="gpt-4o-mini",
    path=lambda model, stream: "/v1/chat/completions",
    headers={"Authorization": f"Bearer {KEY}"},
    env={"CONFORMANCE_OPENAI_KEY": KEY},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(9, 10, 19),
        stream_usage=(9, 10, 19),
        tool_call_id="call_DdmO9pD3xa9XTPNJ32zg2hcA",
        tool_arguments={"city": "Paris", "unit": "celsius"},
        error_message="max_tokens is too large",
    ),
)
