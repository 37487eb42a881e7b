"""What a provider case declares for the conformance suite, and its fixture files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from tests.fakes.replay_upstream import ReplayServer, Reply, Seen

FIXTURES = Path(__file__).parent.parent / "fixtures"


def sse_frames(stream: bytes) -> list[bytes]:
    """A recorded SSE stream split into its events, each with its blank-line terminator."""
    normalized = stream.replace(b"\r\n", b"\n")
    return [frame + b"\n\n" for frame in normalized.split(b"\n\n") if frame.strip()]


@dataclass(frozen=True)
class Expected:
    """What the recorded answers say, as Tripoint must report it."""

    text: str  # text.json and text.<ext> answer this
    usage: tuple[int, int, int]  # prompt, completion, total tokens of text.json
    stream_usage: tuple[int, int, int]  # ... of text.<ext>
    tool_call_id: str  # tool_call.json and tool_call.<ext> call the tool with this id
    tool_arguments: Mapping[str, Any]
    error_message: str  # a phrase of error_400.json's message that the client must see
    tool_name: str = "get_weather"


@dataclass(frozen=True)
class ProviderCase:
    name: str  # also the fixture folder's name
    backend: Callable[[str], dict[str, Any]]  # the replay server's URL -> the backend config
    model: str  # the model name the backend knows
    path: Callable[[str, bool], str]  # (model, stream) -> path and query it must be sent to
    expected: Expected
    headers: Mapping[str, str] = field(
        default_factory=dict
    )  # every request must carry these (credentials too)
    env: Mapping[str, str] = field(
        default_factory=dict
    )  # values for the config's `env:` secret references
    stream_content_type: str = "text/event-stream"
    stream_suffix: str = "sse"
    frames: Callable[[bytes], list[bytes]] = sse_frames
    garbage_frame: bytes = b"data: {not json\n\n"
    check_request: Callable[[Seen], None] | None = None
    # a stream fixture as stored -> the bytes on the wire (an AWS event stream is stored as
    # readable JSON events and framed when replayed)
    encode_stream: Callable[[bytes], bytes] | None = None
    # standing answers the backend needs besides the API (an OAuth token endpoint), set on
    # the replay server before each test
    prepare: Callable[[ReplayServer], None] | None = None
    # response headers a recorded answer came with, by fixture file name (an AWS error's
    # x-amzn-errortype, say); the suite adds Retry-After to its 429 itself
    reply_headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    marks: tuple[Any, ...] = field(default=())  # pytest marks for every test of this case
    # Where a backend's native API differs from OpenAI's, the suite checks the documented
    # difference instead (self-hosted servers: TGI's /generate has no tools; Ollama sends
    # tool calls whole and without ids):
    tools: bool = True  # False: tools and tool messages are refused with a clear 400
    tool_call_ids: Literal["upstream", "generated"] = "upstream"  # generated: `call_<random>`
    tool_arguments_in_pieces: bool = True  # False: a streamed tool call arrives in one delta

    def tool_call_id_matches(self, call_id: str | None) -> bool:
        if self.tool_call_ids == "generated":
            return bool(call_id) and str(call_id).startswith("call_") and len(str(call_id)) > 8
        return call_id == self.expected.tool_call_id

    def fixture(self, name: str) -> bytes:
        """A fixture file as the provider sends it on the wire."""
        data = (FIXTURES / self.name / name).read_bytes()
        if self.encode_stream is not None and self.is_stream(name):
            return self.encode_stream(data)
        return data

    def is_stream(self, name: str) -> bool:
        return name.endswith(f".{self.stream_suffix}")

    def stream_name(self, name: str) -> str:
        return f"{name}.{self.stream_suffix}"

    def stream_fixture(self, name: str) -> bytes:
        return self.fixture(self.stream_name(name))

    def reply(self, name: str, *, status: int = 200, **options: Any) -> Reply:
        """A recorded answer as the provider sends it, with its content type and headers."""
        headers = {**self.reply_headers.get(name, {}), **options.pop("headers", {})}
        options.setdefault(
            "content_type", self.stream_content_type if self.is_stream(name) else "application/json"
        )
        return Reply(self.fixture(name), status=status, headers=headers, **options)

    def request_fixture(self, scenario: str) -> Any:
        return orjson.loads(self.fixture(f"request_{scenario}.json"))
