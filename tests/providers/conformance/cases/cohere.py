"""The `cohere` backend type against Cohere's documented v2 chat wire format."""

from __future__ import annotations

from typing import Any

from tests.providers.conformance.case import Expected, ProviderCase

KEY = "co-conformance"


def _backend(url: str) -> dict[str, Any]:
    return {"type": "cohere", "base_url": url, "api_key": "env:CONFORMANCE_COHERE_KEY"}


CASE = ProviderCase(
    name="cohere",
    backend=_backend,
    model="command-a-03-2025",
    path=lambda model, stream: "/v2/chat",
    headers={"Authorization": f"Bearer {KEY}"},
    env={"CONFORMANCE_COHERE_KEY": KEY},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(3, 9, 12),  # billed units, not the templated prompt's raw tokens
        stream_usage=(3, 9, 12),
        tool_call_id="get_weather_1byjy32y4hvq",
        tool_arguments={"city": "Paris", "unit": "celsius"},
        error_message="max_tokens must be less than or equal to",
    ),
)
