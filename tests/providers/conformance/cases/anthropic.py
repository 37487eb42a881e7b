"""The `anthropic` backend type against Anthropic's documented Messages API wire format."""

from __future__ import annotations

from typing import Any

from tests.providers.conformance.case import Expected, ProviderCase

KEY = "sk-ant-conformance"


def _backend(url: str) -> dict[str, Any]:
    return {
        "type": "anthropic",
        "base_url": url,
        "api_key": "env:CONFORMANCE_ANTHROPIC_KEY",
        "max_tokens": 1024,
    }


CASE = ProviderCase(
    name="anthropic",
    backend=_backend,
    model="claude-sonnet-4-5",
    path=lambda model, stream: "/v1/messages",
    headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
    env={"CONFORMANCE_ANTHROPIC_KEY": KEY},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(12, 10, 22),
        stream_usage=(12, 10, 22),
        tool_call_id="toolu_01A09q90qw90lq917835lq9",
        tool_arguments={"city": "Paris", "unit": "celsius"},
        error_message="maximum allowed number of output tokens",
    ),
)
