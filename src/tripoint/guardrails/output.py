"""Output guardrails on a stream of chunks: each text channel (a choice's content, a tool
call's arguments, a string extra such as `reasoning_content`) flows through its own window.

Finish reasons flush their choice's windows first, so the final chunk (finish reason, usage)
always arrives after all of the text it ends. On a block the stream gets a `content_filter`
finish and then the error, which the edge renders as an error event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from tripoint.errors import ContentBlockedError
from tripoint.guardrails.finding import Detector, Finding
from tripoint.guardrails.guardrail import Guardrail
from tripoint.guardrails.redaction import PlaceholderRestorer, Vault, replacement
from tripoint.guardrails.window import StreamWindow
from tripoint.schema.chunks import ChatChunk, ChoiceDelta, Chunk, ToolCallDelta

Channel = tuple[int, str, int | str]  # (choice, "text" | "tool" | "extra", which)
RESTORE = "restore"

# Runs named detectors over texts (off the event loop, under the guardrails' timeouts) and
# answers, per text, the findings with `source` set to the detector's name.
ScanMany = Callable[[Sequence[tuple[str, Detector]], Sequence[str]], Awaitable[list[list[Finding]]]]


@dataclass(slots=True)
class OutputTally:
    """What each guardrail found in the whole answer: recorded once, when the stream ends."""

    counts: dict[str, Counter[str]]

    def add(self, finding: Finding) -> None:
        self.counts.setdefault(finding.source, Counter())[finding.kind] += 1


class OutputFilter:
    def __init__(
        self,
        guardrails: Sequence[Guardrail],
        vault: Vault,
        scan: ScanMany,
        *,
        hold: int,
        max_held: int,
    ) -> None:
        self._guardrails = {g.name: g for g in guardrails}
        self._vault = vault
        self._restorer = PlaceholderRestorer(vault)
        detectors: list[tuple[str, Detector]] = [(g.name, g.detector) for g in guardrails]
        if vault.reversible:
            detectors.append((RESTORE, self._restorer))
        self._detectors = tuple(detectors)
        self._scan = scan
        self._hold = hold
        self._max_held = max_held
        self._windows: dict[Channel, StreamWindow] = {}
        self.tally = OutputTally({})
        self.blocked_by: str | None = None

    async def filter(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
        open_choices: set[int] = set()
        try:
            async for chunk in chunks:
                if not isinstance(chunk, ChatChunk):
                    yield chunk
                    continue
                open_choices.update(d.index for d in chunk.choices)
                out = await self._pass(chunk, final=False)
                open_choices.difference_update(
                    d.index for d in chunk.choices if d.finish_reason is not None
                )
                if out is not None:
                    yield out
            tail = await self._pass(ChatChunk(), final=True)
            if tail is not None:
                yield tail
        except ContentBlockedError:
            if open_choices:
                yield ChatChunk(
                    choices=tuple(
                        ChoiceDelta(index=i, finish_reason="content_filter")
                        for i in sorted(open_choices)
                    )
                )
            raise

    async def _pass(self, chunk: ChatChunk, *, final: bool) -> ChatChunk | None:
        flushing = {d.index for d in chunk.choices if d.finish_reason is not None}
        ready: list[Channel] = []
        for delta in chunk.choices:
            for channel, text in _texts(delta):
                window = self._windows.setdefault(channel, StreamWindow(self._hold, self._max_held))
                if window.push(text):
                    ready.append(channel)
        due = [
            c
            for c, w in self._windows.items()
            if w.held and (final or c[0] in flushing or c in ready)
        ]
        released = await self._release(due, final_for=lambda c: final or c[0] in flushing)
        return _rebuild(chunk, released)

    async def _release(
        self, channels: list[Channel], final_for: Callable[[Channel], bool]
    ) -> dict[Channel, str]:
        if not channels:
            return {}
        texts = [self._windows[c].scan_text()[0] for c in channels]
        found = await self._scan(self._detectors, texts)
        out: dict[Channel, str] = {}
        for channel, findings in zip(channels, found, strict=True):
            part = self._windows[channel].release(findings, final=final_for(channel))
            out[channel] = self._apply(part.text, part.findings)
        return out

    def _apply(self, text: str, findings: Sequence[Finding]) -> str:
        """Judge released findings: block raises, redact and restore rewrite, log counts."""
        parts: list[str] = []
        at = 0
        for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
            if finding.source != RESTORE:
                self.tally.add(finding)
            guardrail = self._guardrails.get(finding.source)
            if guardrail is not None and guardrail.action == "log":
                continue
            if guardrail is not None and (guardrail.action == "block" or not guardrail.redacts):
                self.blocked_by = guardrail.name
                raise ContentBlockedError(
                    "The response was " + guardrail.reason({finding.kind: 1}) + "."
                )
            if finding.start < at:
                continue  # overlaps a value already replaced
            value = text[finding.start : finding.end]
            if guardrail is None:
                new = self._vault.original(value) or value
            else:
                new = replacement(finding, value, guardrail.redaction, self._vault)
            parts.extend((text[at : finding.start], new))
            at = finding.end
        parts.append(text[at:])
        return "".join(parts)


def find_all(
    detectors: Sequence[tuple[str, Detector]], texts: Sequence[str]
) -> list[list[Finding]]:
    """Every detector over every text (one worker-thread job), findings tagged by source."""
    return [
        [replace(f, source=name) for name, detector in detectors for f in detector.find(text)]
        for text in texts
    ]


def _texts(delta: ChoiceDelta) -> list[tuple[Channel, str]]:
    texts: list[tuple[Channel, str]] = []
    if delta.text:
        texts.append(((delta.index, "text", 0), delta.text))
    texts.extend(
        ((delta.index, "tool", call.index), call.arguments)
        for call in delta.tool_calls
        if call.arguments
    )
    texts.extend(
        ((delta.index, "extra", key), value)
        for key, value in delta.extra.items()
        if isinstance(value, str) and value
    )
    return texts


def _rebuild(chunk: ChatChunk, released: dict[Channel, str]) -> ChatChunk | None:
    """The chunk with its texts replaced by what the windows released."""
    choices = [_rebuild_delta(d, released) for d in chunk.choices]
    indices = {d.index for d in chunk.choices}
    flushed = sorted({c[0] for c in released} - indices)  # at the stream's end
    choices.extend(_rebuild_delta(ChoiceDelta(index=i), released) for i in flushed)
    kept = tuple(c for c in choices if c is not None)
    if not kept and chunk.usage is None:
        return None
    return replace(chunk, choices=kept)


def _rebuild_delta(delta: ChoiceDelta, released: dict[Channel, str]) -> ChoiceDelta | None:
    i = delta.index
    released_text = released.get((i, "text", 0))
    text = (released_text or "") if delta.text is not None else released_text
    calls = [
        replace(call, arguments=released.get((i, "tool", call.index), ""))
        for call in delta.tool_calls
    ]
    seen = {call.index for call in delta.tool_calls}
    calls.extend(
        ToolCallDelta(index=int(which), arguments=value)
        for (ci, kind, which), value in sorted(released.items(), key=str)
        if ci == i and kind == "tool" and which not in seen and value
    )
    extra = {
        key: released.get((i, "extra", key), "") if isinstance(value, str) else value
        for key, value in delta.extra.items()
    }
    new = replace(
        delta,
        text=text,
        tool_calls=tuple(c for c in calls if c.arguments or c.id or c.name),
        extra=extra,
        logprobs=None,  # token logprobs would spell out what the windows redact
    )
    empty = not (new.text or new.tool_calls or new.role or new.finish_reason or _has(new.extra))
    return None if empty else new


def _has(extra: dict[str, object] | object) -> bool:
    return isinstance(extra, dict) and any(v not in ("", None) for v in extra.values())
