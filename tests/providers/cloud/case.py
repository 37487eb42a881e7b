"""A provider "case": a loopback fake speaking the backend's real wire format, the backend
config that points at it, and what the recorded fixtures should come out as.

Shaped to plug into a shared, parametrised provider conformance suite: a scenario test gets
a case and needs nothing else to know about the backend. Build one with
`bedrock_case(fake_bedrock, secrets_dir)` or `vertex_case(fake_vertex, secrets_dir)` (fixtures
in tests/providers/cloud/fakes.py); script the next answer with `case.fake.then(...)` taking a
`tests.fakes.loopback.Reply`: `scenario="text" | "tool_call"` (recorded fixtures, streamed or
whole as the request asks), `status=429, headers={"Retry-After": "7"}` (the provider's recorded
error body), `body=b"garbage", content_type=...`, `delay=`, `piece=`, `cut_at=`, `stall_at=`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.loopback import LoopbackServer
from tripoint.config.schema import Backend
from tripoint.providers.base import Provider
from tripoint.providers.registry import build_provider, facts_of
from tripoint.providers.target import Target
from tripoint.schema.chunks import Usage


@dataclass(frozen=True)
class Turn:
    """One turn of a wire request, in backend-neutral terms."""

    role: str  # "user" or "assistant"
    texts: tuple[str, ...] = ()
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()  # (function name, arguments)
    results: tuple[tuple[str, str], ...] = ()  # (call id or function name, result text)


@dataclass(frozen=True)
class Conversation:
    system: str | None
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Expected:
    """What the case's fixtures say, for both the whole and the streamed answer."""

    text: str
    usage: Usage
    tool_preamble: str
    tool_name: str
    tool_arguments: dict[str, Any]
    tool_usage: Usage


@dataclass(frozen=True)
class ProviderCase:
    name: str
    fake: LoopbackServer
    backend: Backend
    model: str
    expected: Expected
    read: Callable[[Any], Conversation]  # a received wire body -> what it says
    stream_body: Callable[[str], bytes]  # a scenario's recorded stream, as sent on the wire
    # body offset of the last event boundary before the answer's end (a "clean" cut)
    clean_cut: Callable[[str], int]
    stream_garbage: bytes  # a 200 stream body in the right content type that is not valid
    stream_content_type: str
    extras: dict[str, Any] = field(default_factory=dict)

    def provider(self) -> Provider:
        return build_provider(self.name, self.backend)

    def target(self, model: str | None = None) -> Target:
        return Target(facts_of(self.name, self.backend), model or self.model)
