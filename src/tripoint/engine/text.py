"""Token bytes to text as it is produced: whole UTF-8 characters only, stop strings withheld.

A multi-byte character may span tokens, and a stop string may span pieces, so text that could
still turn out to be (the start of) a stop string is held back until it is decided.
"""

from __future__ import annotations

import codecs


class TextStream:
    def __init__(self, stops: tuple[str, ...]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Text that is now safe to send. After a stop string, `stopped` is set and the rest
        of the generation must be dropped."""
        self._held += self._decoder.decode(data)
        if not self._stops:
            out, self._held = self._held, ""
            return out
        cut = _first_stop(self._held, self._stops)
        if cut is not None:
            self.stopped = True
            out, self._held = self._held[:cut], ""
            return out
        keep = _longest_stop_prefix_suffix(self._held, self._stops)
        split = len(self._held) - keep
        out, self._held = self._held[:split], self._held[split:]
        return out

    def flush(self) -> str:
        """What is left when generation ends without a stop string."""
        if self.stopped:
            return ""
        rest = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        cut = _first_stop(rest, self._stops)
        return rest if cut is None else rest[:cut]


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _longest_stop_prefix_suffix(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest end of `text` that begins some stop string."""
    best = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), best, -1):
            if stop.startswith(text[-size:]):
                best = size
                break
    return best
