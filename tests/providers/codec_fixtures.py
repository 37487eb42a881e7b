"""Recorded fixtures decoded without a server: SSE files to events, JSON files to values."""

from __future__ import annotations

from typing import Any

import orjson

from tests.providers.conformance.case import FIXTURES
from tripoint.providers.sse import ServerSentEvent, SSEDecoder


def events(provider: str, name: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    found = decoder.feed((FIXTURES / provider / name).read_bytes())
    assert not decoder.pending
    return found


def document(provider: str, name: str) -> Any:
    return orjson.loads((FIXTURES / provider / name).read_bytes())
