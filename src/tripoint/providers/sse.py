"""Incremental Server-Sent Events decoder (WHATWG rules), pure and fed with raw bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Feed bytes as they arrive; get whole events. Lines and UTF-8 characters split across
    reads are held back until complete."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    @property
    def pending(self) -> bool:
        """True when bytes or an unfinished event are held: the stream stopped mid-event."""
        return bool(self._buffer.strip() or self._data)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            # a lone CR at the very end may be the first half of CRLF: keep it for next time
            keep_cr = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                buffer = buffer[:-1]
                lines = buffer.split(b"\n")
                self._buffer = lines.pop() + b"\r"
                return self._lines(lines)
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(
                        ServerSentEvent("\n".join(self._data), self._event or "message", self._id)
                    )
                self._data, self._event = [], ""
                continue
            line = raw.decode("utf-8", errors="replace")
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                self._id = value
            # comments (empty name) and unknown fields are ignored, as the spec says
        return events
