"""Redact text before it is stored: every PII and secrets check's detector runs on it, whatever
the check's action and whichever calls it applies to, so a shadow-mode (`log`) check or a model
without guardrails still never has its values stored.

Overlapping findings are merged and replaced whole (no part of a value survives). Each value
gets its check's redaction; `reversible` stores a placeholder, since nothing is restored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tripoint.guardrails.engine import GuardrailEngine
from tripoint.guardrails.finding import Detector, Finding
from tripoint.guardrails.pii import PiiDetector
from tripoint.guardrails.redaction import Vault, replacement
from tripoint.guardrails.secrets import SecretDetector


@dataclass(frozen=True, slots=True)
class _Check:
    detector: Detector
    mode: str  # mask | placeholder


class Scrubber:
    """`redact(texts)` runs on the caller's thread (the capture writer's own, never the
    guardrails' pool, so storing never queues ahead of a call's scan)."""

    def __init__(self, engine: GuardrailEngine, names: Sequence[str]) -> None:
        self._engine = engine
        self._names = tuple(names)
        self._checks: tuple[_Check, ...] | None = None

    def redact(self, texts: Sequence[str]) -> list[str]:
        """The texts with every value found replaced; one numbering of placeholders for all."""
        checks = self._loaded()
        vault = Vault()
        vault.skip_present(texts)
        return [self._one(text, checks, vault) for text in texts]

    def _loaded(self) -> tuple[_Check, ...]:
        if self._checks is None:
            picked = []
            for name in self._names:
                guardrail = self._engine.get(name)
                if isinstance(guardrail.detector, PiiDetector | SecretDetector):
                    mode = "mask" if guardrail.redaction == "mask" else "placeholder"
                    picked.append(_Check(guardrail.detector, mode))
            self._checks = tuple(picked)
        return self._checks

    @staticmethod
    def _one(text: str, checks: tuple[_Check, ...], vault: Vault) -> str:
        if not text:
            return text
        found = sorted(
            ((f, c.mode) for c in checks for f in c.detector.find(text)),
            key=lambda pair: (pair[0].start, -pair[0].end),
        )
        parts: list[str] = []
        at = 0
        for span, (first, mode) in merged(found):
            start, end = span
            parts.append(text[at:start])
            parts.append(replacement(first, text[start:end], mode, vault))
            at = end
        parts.append(text[at:])
        return "".join(parts)


def merged(
    found: list[tuple[Finding, str]],
) -> list[tuple[tuple[int, int], tuple[Finding, str]]]:
    """Overlapping findings as one span, named after its first finding."""
    spans: list[tuple[tuple[int, int], tuple[Finding, str]]] = []
    for finding, mode in found:
        if spans and finding.start < spans[-1][0][1]:
            (start, end), first = spans[-1]
            spans[-1] = ((start, max(end, finding.end)), first)
        else:
            spans.append(((finding.start, finding.end), (finding, mode)))
    return spans
