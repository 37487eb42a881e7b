"""The `tgi` backend type against TGI's documented native `/generate` and `/generate_stream`."""

from __future__ import annotations

from typing import Any

from tests.providers.conformance.case import Expected, ProviderCase

KEY = "hf_conformance"


def _backend(url: str) -> dict[str, Any]:
    return {"type": "tgi", "base_url": url, "api_key": "env:CONFORMANCE_TGI_KEY"}


CASE = ProviderCase(
    name="tgi",
    backend=_backend,
    model="tgi",  # TGI serves one model; the name is not sent
    path=lambda model, stream: "/generate_stream" if stream else "/generate",
    headers={"Authorization": f"Bearer {KEY}"},
    env={"CONFORMANCE_TGI_KEY": KEY},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(11, 10, 21),  # prompt tokens from details.prefill
        stream_usage=(11, 10, 21),  # from details.input_length
        tool_call_id="",  # TGI's native API has no tools (its /v1 route does: type openai)
        tool_arguments={},
        error_message="must be <= 4096",
    ),
    tools=False,
)
