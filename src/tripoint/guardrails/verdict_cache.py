"""A bounded, thread-safe memo of a detector's findings per text, keyed by a digest.

A chat call resends its whole history every turn; a detector whose verdict on a text never
changes (the injection classifier) answers the turns it has already judged from here. Each
detector owns its own cache; nothing is shared between processes or kept beyond `size`.

Entries are scoped to the caller's team (`SCOPE`, set by the guardrails engine for the job it
runs): a shared cache would answer another team's exact text faster, and that timing would
tell a caller what someone else had sent.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar

from tripoint.guardrails.finding import Finding

# whose verdicts a lookup may see: the team (or caller) of the job being run; a context
# variable, so it reaches the detector on its worker thread without a parameter through every
# detector's `find`
SCOPE: ContextVar[str] = ContextVar("tripoint_verdict_scope", default="")


class VerdictCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._lock = threading.Lock()  # detectors run on several worker threads
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str, find: Callable[[str], list[Finding]]) -> list[Finding]:
        """`find(text)`, or what it answered for the same text before (least recently used
        entries go first). Two threads missing on the same text both compute it."""
        if self._size <= 0:
            return find(text)
        digest = hashlib.blake2b(digest_size=16)
        digest.update(SCOPE.get().encode("utf-8", "surrogatepass") + b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        key = digest.digest()
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return list(found)
            self.misses += 1
        computed = find(text)
        with self._lock:
            self._entries[key] = tuple(computed)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return computed
