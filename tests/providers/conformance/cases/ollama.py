"""The `ollama` backend type against Ollama's documented native `/api/chat` wire format."""

from __future__ import annotations

from typing import Any

from tests.providers.conformance.case import Expected, ProviderCase

KEY = "ollama-behind-a-proxy"


def _backend(url: str) -> dict[str, Any]:
    return {"type": "ollama", "base_url": url, "api_key": "env:CONFORMANCE_OLLAMA_KEY"}


def _lines(stream: bytes) -> list[bytes]:
    """An NDJSON stream split into its records, each with its newline."""
    return [line + b"\n" for line in stream.split(b"\n") if line.strip()]


CASE = ProviderCase(
    name="ollama",
    backend=_backend,
    model="llama3.2",
    path=lambda model, stream: "/api/chat",
    headers={"Authorization": f"Bearer {KEY}"},
    env={"CONFORMANCE_OLLAMA_KEY": KEY},
    expected=Expected(
        text="Hello! How can I help you today?",
        usage=(26, 10, 36),
        stream_usage=(26, 10, 36),
        # Ollama's tool calls carry no id: the provider makes one (call_<random hex>)
        tool_call_id="",
        tool_arguments={"city": "Paris", "unit": "celsius"},
        error_message="cannot unmarshal string",
    ),
    stream_content_type="application/x-ndjson",
    stream_suffix="ndjson",
    frames=_lines,
    garbage_frame=b'{"model":"llama3.2","message":{"role":\n',
    tool_call_ids="generated",
    tool_arguments_in_pieces=False,
)
