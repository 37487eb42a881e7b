"""A call's texts as captured: the request's texts and the answer assembled from its chunks
(streamed or not), bounded in memory, then laid out as the stored document. Pure.

Texts are held raw only until the writer redacts them, off the hot path; the document is
cut to the team's `max_bytes` after redaction, so a cut never splits a value the redaction
would have caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tripoint.errors import InvalidRequestError
from tripoint.guardrails.request_text import Request, text_fields
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Chunk

# Raw text kept beyond `max_bytes` so that redaction sees every value the cut may reach
# whole (the longest secrets, PEM keys, are a few KiB).
MARGIN = 16_384


@dataclass(frozen=True, slots=True)
class Piece:
    """One captured text. `side` is request or response; `index` the choice (response);
    `slot` the role (request) or text | reasoning_content | tool.<n>.name | tool.<n>.arguments."""

    side: str
    index: int
    slot: str
    text: str


def request_pieces(request: Request, limit: int) -> tuple[Piece, ...]:
    """Every text of the request, in order, each clipped to `limit` characters."""
    try:
        fields = text_fields(request)
    except InvalidRequestError:  # token ids, not text: there is nothing to read
        return ()
    return tuple(Piece("request", 0, f.role, f.text[:limit]) for f in fields)


@dataclass(slots=True)
class Transcript:
    """The answer, assembled chunk by chunk; stops keeping text past `limit` characters."""

    limit: int
    kept: int = 0
    clipped: bool = False
    texts: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    finish: dict[int, str] = field(default_factory=dict)

    def add(self, chunk: Chunk) -> None:
        if not isinstance(chunk, ChatChunk):
            return  # embeddings and predictions answer numbers, not text
        for delta in chunk.choices:
            if delta.text:
                self._keep(delta.index, "text", delta.text)
            if delta.tool_calls:
                self._tools(delta)
            if delta.extra:
                self._extras(delta)
            if delta.finish_reason is not None:
                self.finish[delta.index] = delta.finish_reason

    def _tools(self, delta: ChoiceDelta) -> None:
        for call in delta.tool_calls:
            if call.name:
                self._keep(delta.index, f"tool.{call.index}.name", call.name)
            if call.arguments:
                self._keep(delta.index, f"tool.{call.index}.arguments", call.arguments)

    def _extras(self, delta: ChoiceDelta) -> None:
        for key, value in delta.extra.items():
            if isinstance(value, str) and value:
                self._keep(delta.index, key, value)

    def pieces(self) -> tuple[Piece, ...]:
        return tuple(
            Piece("response", index, slot, "".join(parts))
            for (index, slot), parts in sorted(self.texts.items())
        )

    def _keep(self, index: int, slot: str, text: str) -> None:
        room = self.limit - self.kept
        if room <= 0:
            self.clipped = True
            return
        if len(text) > room:
            text, self.clipped = text[:room], True
        self.texts.setdefault((index, slot), []).append(text)
        self.kept += len(text)


@dataclass(frozen=True, slots=True)
class Capture:
    """One call's capture as the stage hands it over: references only (the request object,
    the transcript), so the hot path copies no text. The writer lays it out, off the loop."""

    request: Request
    request_id: str
    wall_started: float  # epoch seconds: the call record's `created_at`
    team_id: str | None
    team_name: str
    model: str
    operation: str
    data_class: str
    max_bytes: int
    retention_days: int
    answer: Transcript
    complete: bool

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.wall_started, UTC)  # as the ledger stores it

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(days=self.retention_days)

    def pieces(self) -> tuple[Piece, ...]:
        """Every text, request first, in the order the document keeps them."""
        return request_pieces(self.request, self.answer.limit) + self.answer.pieces()

    @property
    def finish(self) -> tuple[tuple[int, str], ...]:
        return tuple(sorted(self.answer.finish.items()))


def document(
    pieces: Sequence[Piece], finish: Sequence[tuple[int, str]], max_bytes: int
) -> tuple[list[Any], list[Any], bool]:
    """The stored request and response, cut to `max_bytes` of text; and whether it was cut."""
    room = max_bytes
    truncated = False
    request: list[dict[str, str]] = []
    choices: dict[int, dict[str, Any]] = {i: {"index": i} for i, _ in finish}
    for piece in pieces:
        encoded = piece.text.encode()
        if len(encoded) > room:
            encoded, truncated = encoded[:room], True
        room -= len(encoded)
        text = encoded.decode(errors="ignore")  # a cut inside a character drops it
        if piece.side == "request":
            request.append({"role": piece.slot, "text": text})
            continue
        choice = choices.setdefault(piece.index, {"index": piece.index})
        if piece.slot.startswith("tool."):
            _, number, part = piece.slot.split(".")
            calls = choice.setdefault("tool_calls", {})
            calls.setdefault(number, {"index": int(number)})[part] = text
        else:
            choice[piece.slot] = text
    for index, reason in finish:
        choices[index]["finish_reason"] = reason
    response = []
    for index in sorted(choices):
        choice = choices[index]
        if "tool_calls" in choice:
            calls = choice["tool_calls"]
            choice["tool_calls"] = [calls[k] for k in sorted(calls, key=int)]
        response.append(choice)
    return request, response, truncated
