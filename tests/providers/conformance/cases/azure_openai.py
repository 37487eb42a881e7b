"""The `azure_openai` backend type against Azure OpenAI's documented deployment wire format."""

from __future__ import annotations

from typing import Any

from tests.providers.conformance.case import Expected, ProviderCase

KEY = "azure-conformance-key"


def _backend(url: str) -> dict[str, Any]:
    return {
        "type": "azure_openai",
        "endpoint": url,
        "api_version": "2024-10-21",
        "api_key": "env:CONFORMANCE_AZURE_KEY",
    }


CASE = ProviderCase(
    name="azure_openai",
    backend=_backend,
    model="gpt-4o-prod",  # the deployment's name
    path=lambda deployment, stream: (
        f"/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21"
    ),
    headers={"api-key": KEY},
    env={"CONFORMANCE_AZURE_KEY": KEY},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(9, 10, 19),
        stream_usage=(9, 10, 19),
        tool_call_id="call_a1b2c3d4e5f6a7b8c9d0e1f2",
        tool_arguments={"city": "Paris", "unit": "celsius"},
        error_message="content management policy",
    ),
)
