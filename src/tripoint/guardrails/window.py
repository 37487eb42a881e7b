"""A bounded sliding window over one stream of text (a choice's content, a tool call's
arguments): it holds back just enough to catch a value split across chunks.

Text is released only up to `hold` characters before the end, and never from inside a
finding, so a value no longer than `hold` is always whole when it is judged. What stays held
is bounded: a window holding more than `max_held` characters (an unterminated private key)
is an error, and the caller blocks. A short tail of released text is kept as left context so
word boundaries and context words still work at the seam.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from tripoint.errors import ContentBlockedError
from tripoint.guardrails.finding import Finding

CONTEXT = 64  # characters of released text kept for look-behind and context words


@dataclass(frozen=True, slots=True)
class Released:
    """Text now safe to judge: `text` and its findings (offsets into `text`)."""

    text: str
    findings: tuple[Finding, ...]


Scan = Callable[[str], Sequence[Finding]]


class StreamWindow:
    def __init__(self, hold: int, max_held: int) -> None:
        self._hold = hold
        self._step = max(16, hold // 4)  # scan at most once per this many new characters
        self._max_held = max_held
        self._held = ""
        self._context = ""
        self._unscanned = 0

    @property
    def held(self) -> int:
        return len(self._held)

    def push(self, text: str) -> bool:
        """Add text; True when enough is held that a scan may release some."""
        self._held += text
        self._unscanned += len(text)
        if len(self._held) > self._max_held:
            raise ContentBlockedError(
                "The response was blocked: a value too long to inspect was being streamed."
            )
        return len(self._held) > self._hold and self._unscanned >= self._step

    def scan_text(self) -> tuple[str, int]:
        """The text to scan (context + held) and where the held part starts in it."""
        return self._context + self._held, len(self._context)

    def release(self, findings: Sequence[Finding], *, final: bool) -> Released:
        """Release what is safe given `findings` (offsets into `scan_text()`)."""
        offset = len(self._context)
        held = [
            replace(f, start=f.start - offset, end=f.end - offset)
            for f in findings
            if f.end > offset  # ones wholly in the context were judged when released
        ]
        cut = len(self._held) if final else max(0, len(self._held) - self._hold)
        for finding in sorted(held, key=lambda f: f.start, reverse=True):
            if finding.start < cut < finding.end:
                cut = max(0, finding.start)
        out = self._held[:cut]
        inside = tuple(
            replace(f, start=max(0, f.start)) for f in held if f.end <= cut and f.end > 0
        )
        self._held = self._held[cut:]
        self._context = (self._context + out)[-CONTEXT:]
        self._unscanned = 0
        return Released(out, inside)
