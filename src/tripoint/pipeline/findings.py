"""Sensitive data found in a call's input: scanned once, before governance, reused after."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found: its type (`EMAIL_ADDRESS`, `openai_key`) and where, never its text.

    A finding about the whole text (an injection) spans all of it and cannot be redacted.
    """

    kind: str
    start: int
    end: int
    score: float = 1.0
    source: str = ""  # the guardrail that found it, where several scan one text


@dataclass(frozen=True, slots=True)
class InputScan:
    """What each sensitive-data check (by guardrail name) found in each text of the input.

    The classify stage scans, because governance needs the types before it narrows the
    targets; the guardrails stage then judges from these findings instead of scanning the
    same texts again. `texts` are the texts scanned, in request order: a text that differs
    by the time a stage looks (redacted by an earlier check) is scanned again.
    """

    texts: tuple[str, ...] = ()
    found: Mapping[str, tuple[tuple[Finding, ...], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    kinds: frozenset[str] = frozenset()  # every type found, plus its umbrella PII or SECRET

    def lookup(self, check: str, index: int, text: str) -> tuple[Finding, ...] | None:
        """`check`'s findings in the input's `index`-th text, if it scanned that very text."""
        per_text = self.found.get(check)
        if per_text is None or index >= len(self.texts) or self.texts[index] != text:
            return None
        return per_text[index]
