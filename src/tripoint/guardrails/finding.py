"""What a detector reports, and what a check decides: pass, redact with new text, or block."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

# Findings are shared with the classify stage through the Call, so the type lives below both.
from tripoint.pipeline.findings import Finding

__all__ = ["Detector", "Finding", "Outcome", "Verdict", "counts"]


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 -- an outcome, not a password
    REDACT = "redact"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A check's decision about one text. `text` is the redacted text when redacting."""

    outcome: Outcome
    text: str | None = None
    reason: str | None = None
    findings: Mapping[str, int] = field(default_factory=dict)  # finding type -> count

    @staticmethod
    def passed() -> Verdict:
        return Verdict(Outcome.PASS)


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return dict(Counter(f.kind for f in findings))


class Detector(Protocol):
    """Finds things in text. Pure and thread-safe: it may run on a worker thread."""

    name: str

    def find(self, text: str) -> list[Finding]: ...
